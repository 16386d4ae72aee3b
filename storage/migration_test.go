package storage

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

func TestParseMigrationName(t *testing.T) {
	for _, tc := range []struct {
		file    string
		version int
		name    string
		ok      bool
	}{
		{"0001_schema.sql", 1, "schema", true},
		{"0002_timescale.sql", 2, "timescale", true},
		{"0004_telemetry_covering_key.sql", 4, "telemetry_covering_key", true},
		{"0000_x.sql", 0, "", false},
		{"1_x.sql", 0, "", false},
		{"0001_X.sql", 0, "", false},
		{"0001_.sql", 0, "", false},
		{"0001_a.sql.bak", 0, "", false},
		{"", 0, "", false},
	} {
		v, n, err := ParseMigrationName(tc.file)
		if (err == nil) != tc.ok || v != tc.version || n != tc.name {
			t.Errorf("ParseMigrationName(%q) = %d, %q, %v; want %d, %q, ok=%v", tc.file, v, n, err, tc.version, tc.name, tc.ok)
		}
	}
}

func FuzzParseMigrationName(f *testing.F) {
	for _, s := range []string{"0001_schema.sql", "0002_add_index.sql", "0002_timescale.sql", "0002_plain.sql",
		"0000_x.sql", "1_x.sql", "0001_X.sql", "0001_.sql", "0001_a.sql.bak", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		v, n, err := ParseMigrationName(name)
		if err != nil {
			return
		}
		if v <= 0 || n == "" {
			t.Fatalf("ParseMigrationName(%q) = %d, %q without error", name, v, n)
		}
		if want := fmt.Sprintf("%04d_%s.sql", v, n); want != name {
			t.Fatalf("ParseMigrationName(%q) = %d, %q; does not rebuild the name (%q)", name, v, n, want)
		}
	})
}

func TestLoadMigrations(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   []string
		want    string // versions' names, "|" between versions
		wantErr string
	}{
		{"in order", []string{"0002_b.sql", "0001_a.sql"}, "a|b", ""},
		{"alternatives sorted", []string{"0001_a.sql", "0002_timescale.sql", "0002_plain.sql"}, "a|plain,timescale", ""},
		{"gap", []string{"0001_a.sql", "0003_c.sql"}, "", "versions must run 1..2 without gaps"},
		{"bad name", []string{"0001_a.sql", "2_b.sql"}, "", "NNNN_name.sql"},
		{"none", nil, "", "read migrations"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for _, f := range tc.files {
				fsys["migrations/"+f] = &fstest.MapFile{Data: []byte("-- " + f)}
			}
			vs, err := LoadMigrations(fsys)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for i, v := range vs {
				for _, m := range v {
					if m.Version != i+1 || !strings.Contains(m.SQL, m.Name) {
						t.Errorf("version %d holds %+v", i+1, m)
					}
				}
				got = append(got, strings.Join(MigrationNames(v), ","))
			}
			if g := strings.Join(got, "|"); g != tc.want {
				t.Errorf("got %s, want %s", g, tc.want)
			}
		})
	}
}
