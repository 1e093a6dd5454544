package runtime

import "testing"

func TestNeedsBashFindsBashOnlySyntax(t *testing.T) {
	bash := map[string]string{
		`if [[ -f a ]]; then ./a; fi`:    "[[",
		`./srv <<< "input"`:              "<<<",
		`diff <(./a) b`:                  "<(",
		`./srv &> log`:                   "&>",
		`./srv |& tee log`:               "|&",
		`echo $'tab\t'`:                  "$'",
		`./srv --mode ${MODE,,}`:         "${MODE,",
		`./srv --mode ${MODE^^}`:         "${MODE^",
		`./srv ${VERSION:0:3}`:           "${VERSION:0",
		`./srv ${NAME/ /_}`:              "${NAME/",
		`./srv ${!REF}`:                  "${!REF}",
		`source ./env.sh && ./srv`:       "source",
		`function run { ./srv; }; run`:   "function",
		`ARGS=(a b); ./srv "${ARGS[@]}"`: "ARGS=(",
	}
	for line, want := range bash {
		needs, construct := NeedsBash(line)
		if !needs || len(construct) < 2 || construct[:2] != want[:2] {
			t.Errorf("NeedsBash(%q) = %v, %q; want true, %q", line, needs, construct, want)
		}
	}
	sh := []string{
		`java -Xms128M -Xmx{{SERVER_MEMORY}}M -jar server.jar`,
		`./srv --port ${SERVER_PORT:-25565} --name "${NAME%.*}"`,
		`if [ -f a ]; then ./a; fi`,
		`cd game && ./srv $((SERVER_MEMORY / 2)) > log 2>&1`,
		`. ./env.sh; ./srv`,
		`./RustDedicated +server.hostname "{{HOSTNAME}}" +rcon.web true`,
		`node /home/container/{{BOT_JS_FILE}}`,
	}
	for _, line := range sh {
		if needs, construct := NeedsBash(line); needs {
			t.Errorf("NeedsBash(%q) = true (%q), want false: sh runs it", line, construct)
		}
	}
	if StartupShell(`[[ 1 ]]`) != Bash || StartupShell(`./srv`) != "/bin/sh" {
		t.Error("StartupShell does not follow NeedsBash")
	}
}

func TestEntrypointNeedsBash(t *testing.T) {
	for ep, want := range map[string]bool{"bash": true, "/bin/bash": true, "bash -e": true, "ash": false, "": false, "/bin/sh": false} {
		if got := EntrypointNeedsBash(ep); got != want {
			t.Errorf("EntrypointNeedsBash(%q) = %v, want %v", ep, got, want)
		}
	}
}
