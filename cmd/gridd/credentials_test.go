package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/gridd/gridd/api"
)

// TestAccountsFileHoldsNoSecrets: after `gridd user add --token`, users.json is
// mode 0600 and holds neither the printed password nor the printed token, only a
// bcrypt hash (cost api.BcryptCost) and the token's SHA-256.
func TestAccountsFileHoldsNoSecrets(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if err := cmdUser([]string{"add", "--data-dir", dir, "--name", "ann", "--role", "admin", "--token"}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	pw := regexp.MustCompile(`password for ann: (\S+)`).FindStringSubmatch(out.String())
	tok := regexp.MustCompile(`API token for ann \(shown once\): (\S+)`).FindStringSubmatch(out.String())
	if pw == nil || tok == nil {
		t.Fatalf("no password or token printed:\n%s", out.String())
	}
	path := filepath.Join(dir, api.UsersFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s mode %v, want 0600", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for what, secret := range map[string]string{"password": pw[1], "token": tok[1]} {
		if len(secret) < 16 {
			t.Errorf("%s %q is shorter than 16 characters", what, secret)
		}
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("users.json contains the %s in clear", what)
		}
	}
	bcryptHash := regexp.MustCompile(`\$2[aby]\$(\d\d)\$`).FindSubmatch(data)
	if bcryptHash == nil || string(bcryptHash[1]) != fmt.Sprintf("%02d", api.BcryptCost) {
		t.Errorf("no bcrypt hash of cost %d in users.json:\n%s", api.BcryptCost, data)
	}
	if !regexp.MustCompile(`"sha256": "[0-9a-f]{64}"`).Match(data) {
		t.Errorf("no token SHA-256 in users.json:\n%s", data)
	}
}
