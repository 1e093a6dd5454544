package files

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDenylistReadsGitignorePatterns(t *testing.T) {
	d := NewDenylist([]string{
		"# the server's own files",
		"server.jar",
		"/eula.txt",
		"*.key",
		"!public.key",
		"config/ops.json",
		"logs/",
		"secrets/**",
		"**/cache/*.bin",
		"a/**/z.txt",
		`\!bang`,
		"",
	})
	cases := []struct {
		name  string
		isDir bool
		want  bool
	}{
		{"server.jar", false, true},
		{"plugins/server.jar", false, true}, // no slash: any depth
		{"server.jar.bak", false, false},
		{"eula.txt", false, true},
		{"sub/eula.txt", false, false}, // anchored
		{"tls/private.key", false, true},
		{"public.key", false, false}, // negated
		{"tls/public.key", false, false},
		{"config/ops.json", false, true},
		{"other/config/ops.json", false, false},
		{"logs", true, true},
		{"logs", false, false},           // a file named logs: the pattern is for folders
		{"logs/latest.log", false, true}, // inside a denied folder
		{"secrets", true, false},         // "secrets/**" is what is inside
		{"secrets/a/b.txt", false, true},
		{"cache/x.bin", false, true},
		{"deep/er/cache/x.bin", false, true},
		{"deep/cache/x.txt", false, false},
		{"a/z.txt", false, true},
		{"a/b/c/z.txt", false, true},
		{"!bang", false, true},
		{"bang", false, false},
		{"world/level.dat", false, false},
		{".", true, false},
	}
	for _, c := range cases {
		if got, _ := d.Denies(c.name, c.isDir); got != c.want {
			t.Errorf("Denies(%q, dir=%v) = %v, want %v", c.name, c.isDir, got, c.want)
		}
	}
	if denied, pattern := d.Denies("logs/x", false); !denied || pattern != "logs/" {
		t.Errorf("Denies(logs/x) names pattern %q, want the folder's pattern", pattern)
	}
	var empty *Denylist
	if denied, _ := empty.Denies("server.jar", false); denied {
		t.Error("a nil denylist denies")
	}
}

func TestNegationCannotAllowInsideADeniedFolder(t *testing.T) {
	d := NewDenylist([]string{"plugins/", "!plugins/ok.yml"})
	if denied, _ := d.Denies("plugins/ok.yml", false); !denied {
		t.Error("a file inside a denied folder was allowed again, as git does not")
	}
	d = NewDenylist([]string{"plugins/*", "!plugins/ok.yml"})
	if denied, _ := d.Denies("plugins/ok.yml", false); denied {
		t.Error("a negation after a glob did not allow the file again")
	}
}

// TestFileAPIRefusesDeniedPaths runs every operation of the file API on
// denied paths: each is refused with Denied and changes nothing, while
// the same operations on other paths work.
func TestFileAPIRefusesDeniedPaths(t *testing.T) {
	f, dir, checkOutside := newFolder(t, nil)
	defer checkOutside()
	f.SetDenylist(NewDenylist([]string{"server.jar", "config/", "*.key", "!public.key"}))
	mustWrite(t, filepath.Join(dir, "server.jar"), "jar")
	mustWrite(t, filepath.Join(dir, "config", "a.yml"), "a: 1")
	mustWrite(t, filepath.Join(dir, "world", "private.key"), "k")
	mustWrite(t, filepath.Join(dir, "public.key"), "p")
	mustWrite(t, filepath.Join(dir, "ok.txt"), "ok")
	mustWrite(t, filepath.Join(dir, "bundle.tar.gz"), string(tarGz(t, tarEntry{name: "ok2.txt", body: "x"},
		tarEntry{name: "plugins/server.jar", body: "evil"})))
	before := snapshot(t, dir, dir, -1)

	denied := map[string]error{}
	_, _, denied["read"] = f.OpenFile("path", "server.jar", 0)
	_, _, denied["read in folder"] = f.OpenFile("path", "config/a.yml", 0)
	_, denied["write"] = f.Write("plugins/server.jar", strings.NewReader("x"), -1, 0)
	_, denied["write key"] = f.Write("new.key", strings.NewReader("x"), -1, 0)
	denied["mkdir"] = f.Mkdir("sub/config")
	denied["rename from"] = f.Rename("server.jar", "old.jar")
	denied["rename to"] = f.Rename("ok.txt", "server.jar")
	denied["rename folder holding"] = f.Rename("world", "world2")
	denied["delete"] = f.Delete([]string{"ok.txt", "server.jar"})
	denied["delete folder holding"] = f.Delete([]string{"world"})
	_, denied["compress source"] = f.Compress([]string{"world"}, "w.tar.gz")
	_, denied["compress destination"] = f.Compress([]string{"ok.txt"}, "config/w.tar.gz")
	_, denied["extract entry"] = f.Extract("bundle.tar.gz", "", ExtractLimits{})
	for op, err := range denied {
		if KindOf(err) != Denied {
			t.Errorf("%s: %v, want Denied", op, err)
		} else if !strings.Contains(err.Error(), "denylist") {
			t.Errorf("%s: message %q does not say why", op, err)
		}
	}
	if diffs := diffStates(before, snapshot(t, dir, dir, -1)); len(diffs) > 0 {
		t.Errorf("refused operations changed the folder: %s", strings.Join(diffs, "; "))
	}

	if _, _, err := f.OpenFile("path", "public.key", 0); err != nil {
		t.Errorf("read of a negated path: %v", err)
	}
	if _, err := f.Write("notes.txt", strings.NewReader("x"), -1, 0); err != nil {
		t.Errorf("write of an allowed path: %v", err)
	}
	if err := f.Rename("ok.txt", "fine.txt"); err != nil {
		t.Errorf("rename of an allowed path: %v", err)
	}
	if err := f.Delete([]string{"fine.txt"}); err != nil {
		t.Errorf("delete of an allowed path: %v", err)
	}
	if _, err := f.List("config"); err != nil {
		t.Errorf("listing a denied folder: %v; it is allowed, so a user can see why", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "server.jar")); err != nil {
		t.Errorf("server.jar: %v", err)
	}
}
