package api_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/api"
)

// FuzzOpenUsers: any accounts file either opens or gives an error naming the file; an
// opened store can be saved and re-opened with the same accounts, and never
// authenticates the empty password or an empty token.
func FuzzOpenUsers(f *testing.F) {
	for _, s := range []string{
		`{"users":[{"name":"ann","role":"dispatcher","password_hash":"$2a$12$abcdefghijklmnopqrstuv","tokens":[{"id":"t1","sha256":"00"}]}]}`,
		`{"users":[{"name":"op","role":"operator","operator":"chargeco","chargers":["ev-1"]}]}`,
		`{"users":[null]}`, `{"users":[{"name":"a","role":"viewer"},{"name":"a","role":"admin"}]}`,
		`{"users":[{"name":"Bad Name","role":"viewer"}]}`, `{"users":[{"name":"x","role":"root"}]}`,
		`{}`, `[]`, `null`, ``, `{"users":{}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		dir := t.TempDir()
		path := filepath.Join(dir, api.UsersFile)
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		u, err := api.OpenUsers(path)
		if err != nil {
			if !strings.Contains(err.Error(), path) && !strings.Contains(err.Error(), "read users") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		names := u.Names()
		if _, ok := u.ByToken(""); ok {
			t.Fatal("empty token authenticated")
		}
		// Saving (through Put of an extra user) and re-opening keeps every account.
		if err := u.Put(api.User{Name: "fuzz-extra", Role: api.RoleViewer}, "", time.Unix(0, 0)); err != nil {
			return // e.g. the name already exists with another role: fine
		}
		u2, err := api.OpenUsers(path)
		if err != nil {
			t.Fatalf("re-open after save: %v", err)
		}
		for _, n := range names {
			x, _ := u.Get(n)
			if y, ok := u2.Get(n); !ok || y.Role != x.Role || y.PasswordHash != x.PasswordHash || len(y.Tokens) != len(x.Tokens) {
				t.Fatalf("user %q lost or changed after save", n)
			}
		}
	})
}
