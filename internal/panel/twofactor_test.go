package panel_test

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"
	"time"

	"rsc.io/qr"

	"github.com/berth-dev/berth/internal/panel"
)

func TestTwoFactorSignInTakesACodeOnceAndRefusesAReplay(t *testing.T) {
	p, clock := newClockPanel(t, panel.Config{})
	p.addUser("ann", false)
	session := p.signIn("ann", "")
	key, _ := p.enableTwoFactor(clock, session)
	if a := p.expectAs(200, cred{cookie: session}, "GET", "/api/client/account", nil); a.object(t)["twoFactorEnabled"] != true ||
		strings.Contains(string(a.body), key) {
		t.Errorf("account after enabling: %s", a.body)
	}
	body := func(code string) map[string]any {
		b := map[string]any{"username": "ann", "password": userPassword}
		if code != "" {
			b["code"] = code
		}
		return b
	}
	expectCodeRequired := func(r response, what string) {
		t.Helper()
		m := r.object(t)
		if r.code != 401 || m["twoFactorRequired"] != true || m["error"] == "" || r.header.Get("Set-Cookie") != "" {
			t.Errorf("%s: %d %s, want 401 with twoFactorRequired and no cookie", what, r.code, r.body)
		}
	}
	expectCodeRequired(p.login("", body("")), "no code")
	expectCodeRequired(p.login("", body("000000")), "a wrong code")
	// The code that enabled two-factor was used in this step already.
	expectCodeRequired(p.login("", body(codeAt(t, key, clock.Now()))), "the enabling code again")
	clock.advance(30 * time.Second)
	code := codeAt(t, key, clock.Now())
	if r := p.login("", body(code)); r.code != 200 {
		t.Fatalf("the current code: %d %s", r.code, r.body)
	}
	expectCodeRequired(p.login("", body(code)), "the same code again (replay)")
	clock.advance(30 * time.Second)
	if r := p.login("", body(codeAt(t, key, clock.Now()))); r.code != 200 {
		t.Errorf("the next step's code: %d %s", r.code, r.body)
	}
}

func TestRecoveryCodeSignsInOnce(t *testing.T) {
	p, clock := newClockPanel(t, panel.Config{})
	p.addUser("ann", false)
	_, codes := p.enableTwoFactor(clock, p.signIn("ann", ""))
	seen := map[string]bool{}
	for _, c := range codes {
		if seen[c] || len(c) != 19 {
			t.Errorf("recovery code %q repeated or malformed", c)
		}
		seen[c] = true
	}
	body := map[string]any{"username": "ann", "password": userPassword, "code": strings.ToUpper(codes[3])}
	if r := p.login("", body); r.code != 200 {
		t.Fatalf("a recovery code: %d %s", r.code, r.body)
	}
	if r := p.login("", body); r.code != 401 || r.object(t)["twoFactorRequired"] != true {
		t.Errorf("the same recovery code again: %d %s, want 401", r.code, r.body)
	}
	body["code"] = codes[4]
	if r := p.login("", body); r.code != 200 {
		t.Errorf("another recovery code: %d %s", r.code, r.body)
	}
}

func TestWrongTwoFactorCodesAreThrottled(t *testing.T) {
	p, clock := newClockPanel(t, panel.Config{})
	p.addUser("ann", false)
	key, _ := p.enableTwoFactor(clock, p.signIn("ann", ""))
	for range 5 {
		p.login("", map[string]any{"username": "ann", "password": userPassword, "code": "000000"})
	}
	clock.advance(30 * time.Second)
	r := p.login("", map[string]any{"username": "ann", "password": userPassword, "code": codeAt(t, key, clock.Now())})
	if r.code != 429 {
		t.Errorf("the right code after 5 wrong ones: %d %s, want 429", r.code, r.body)
	}
}

func TestTwoFactorSetupEnableAndDisableRules(t *testing.T) {
	p, clock := newClockPanel(t, panel.Config{})
	p.addUser("ann", false)
	s := cred{cookie: p.signIn("ann", "")}
	p.expectAs(409, s, "POST", "/api/client/account/2fa/enable", map[string]any{"code": "123456"})
	setup := p.expectAs(200, s, "POST", "/api/client/account/2fa/setup", nil).object(t)
	key := setup["secret"].(string)
	if !strings.Contains(setup["otpauthUrl"].(string), "secret="+key) || !strings.Contains(setup["otpauthUrl"].(string), "ann") {
		t.Errorf("otpauthUrl %q does not carry the secret and the account", setup["otpauthUrl"])
	}
	// Not enabled until a first code.
	if p.expectAs(200, s, "GET", "/api/client/account", nil).object(t)["twoFactorEnabled"] != false {
		t.Error("two-factor is on before a first code")
	}
	p.signIn("ann", "")
	r := p.expectAs(400, s, "POST", "/api/client/account/2fa/enable", map[string]any{"code": "000000"})
	if !strings.HasPrefix(r.errorMessage(t), "code:") {
		t.Errorf("a wrong first code: %s", r.body)
	}
	p.expectAs(200, s, "POST", "/api/client/account/2fa/enable", map[string]any{"code": codeAt(t, key, clock.Now())})
	p.expectAs(409, s, "POST", "/api/client/account/2fa/setup", nil)

	clock.advance(30 * time.Second)
	code := codeAt(t, key, clock.Now())
	r = p.expectAs(403, s, "POST", "/api/client/account/2fa/disable", map[string]any{"password": "wrong password", "code": code})
	if !strings.HasPrefix(r.errorMessage(t), "password:") {
		t.Errorf("disable with a wrong password: %s", r.body)
	}
	r = p.expectAs(403, s, "POST", "/api/client/account/2fa/disable", map[string]any{"password": userPassword, "code": "000000"})
	if !strings.HasPrefix(r.errorMessage(t), "code:") {
		t.Errorf("disable with a wrong code: %s", r.body)
	}
	p.expectAs(204, s, "POST", "/api/client/account/2fa/disable", map[string]any{"password": userPassword, "code": code})
	p.signIn("ann", "")
	p.expectAs(409, s, "POST", "/api/client/account/2fa/disable", map[string]any{"password": userPassword, "code": code})
}

func TestAdminResetsAUsersTwoFactor(t *testing.T) {
	p, clock := newClockPanel(t, panel.Config{})
	id := p.addUser("ann", false)
	p.addUser("root", true)
	s := cred{cookie: p.signIn("ann", "")}
	p.enableTwoFactor(clock, s.cookie)
	p.expectAs(403, s, "POST", "/api/users/"+id+"/reset-2fa", nil)
	r := p.expectAs(200, cred{cookie: p.signIn("root", "")}, "POST", "/api/users/"+id+"/reset-2fa", nil)
	if u := r.object(t); u["userId"] != id || u["twoFactorEnabled"] != false {
		t.Errorf("reset answered %s", r.body)
	}
	p.signIn("ann", "")
	p.expectAs(404, cred{key: p.key}, "POST", "/api/users/nobody/reset-2fa", nil)
	p.expect(200, "POST", "/api/users/"+id+"/reset-2fa", nil)
	p.expectAudit("user.reset-2fa", id)
}

func TestRequire2FAAdminsLetsAnAdminDoNothingButSetItUp(t *testing.T) {
	p, clock := newClockPanel(t, panel.Config{Require2FAAdmins: true})
	p.addUser("root", true)
	p.addUser("ann", false)
	r := p.login("", map[string]any{"username": "root", "password": userPassword})
	if r.code != 200 || r.object(t)["twoFactorSetupRequired"] != true {
		t.Fatalf("an admin without two-factor signs in: %d %s, want 200 with twoFactorSetupRequired", r.code, r.body)
	}
	root := cred{cookie: sessionOf(t, r).Value}
	for _, path := range []string{"/api/users", "/api/client/account"} {
		r := p.expectAs(403, root, "GET", path, nil)
		if !strings.Contains(r.errorMessage(t), "two-factor") {
			t.Errorf("GET %s: %s, want a refusal naming the two-factor rule", path, r.body)
		}
	}
	p.enableTwoFactor(clock, root.cookie)
	p.expectAs(200, root, "GET", "/api/users", nil)
	// Users who are not admins, and admin keys, are not bound by it.
	p.expectAs(200, cred{cookie: p.signIn("ann", "")}, "GET", "/api/client/account", nil)
	p.expect(200, "GET", "/api/users", nil)
}

func TestTwoFactorSetupDrawsTheOTPAuthURLAsAQRCode(t *testing.T) {
	p := newPanel(t, panel.Config{})
	p.addUser("ann", false)
	setup := p.expectAs(200, cred{cookie: p.signIn("ann", "")}, "POST", "/api/client/account/2fa/setup", nil).object(t)
	uri, _ := setup["qrPng"].(string)
	raw, ok := strings.CutPrefix(uri, "data:image/png;base64,")
	if !ok {
		t.Fatalf("qrPng %.60q is not a PNG data: URI", uri)
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(b) > 16<<10 {
		t.Fatalf("qrPng: %d bytes of PNG, error %v; want valid base64 under 16 KiB", len(b), err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("qrPng is not a PNG: %v", err)
	}
	modules := readQR(t, img)
	want, err := qr.Encode(setup["otpauthUrl"].(string), qr.M)
	if err != nil {
		t.Fatal(err)
	}
	if len(modules) != want.Size {
		t.Fatalf("the QR code is %d modules wide, want %d for the otpauth URL", len(modules), want.Size)
	}
	for y, row := range modules {
		for x, black := range row {
			if black != want.Black(x, y) {
				t.Fatalf("module (%d,%d) differs from the otpauth URL's QR code", x, y)
			}
		}
	}
}

// readQR reads the modules of a QR code drawn with a quiet zone of four
// modules, checking its shape: square, a version's width (21 to 177
// modules), drawn at least 3 pixels a module, the finder pattern in its
// corner.
func readQR(t *testing.T, img image.Image) [][]bool {
	t.Helper()
	size := img.Bounds().Dx()
	dark := func(x, y int) bool {
		g := color.GrayModel.Convert(img.At(img.Bounds().Min.X+x, img.Bounds().Min.Y+y)).(color.Gray)
		return g.Y < 128
	}
	first := 0
	for first < size && !dark(first, first) {
		first++
	}
	scale := first / 4
	if img.Bounds().Dy() != size || scale < 3 || first%4 != 0 || size%scale != 0 {
		t.Fatalf("the QR image is %v with its first dark pixel at %d: not a code with a 4-module quiet zone", img.Bounds(), first)
	}
	n := size/scale - 8
	if n < 21 || n > 177 || (n-17)%4 != 0 {
		t.Fatalf("the QR code is %d modules wide: no QR version is", n)
	}
	modules := make([][]bool, n)
	for y := range modules {
		modules[y] = make([]bool, n)
		for x := range modules[y] {
			modules[y][x] = dark((x+4)*scale+scale/2, (y+4)*scale+scale/2)
		}
	}
	// The top-left finder: a dark ring, a light ring, a dark 3x3 core.
	for y := range 7 {
		for x := range 7 {
			ring := min(x, y, 6-x, 6-y)
			if want := ring != 1; modules[y][x] != want {
				t.Fatalf("module (%d,%d) breaks the finder pattern", x, y)
			}
		}
	}
	return modules
}
