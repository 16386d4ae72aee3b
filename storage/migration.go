package storage

import (
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
)

var migrationName = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)\.sql$`)

// ParseMigrationName splits a backend's migration file name such as "0001_schema.sql" into its
// version (1) and name ("schema"). The version must be positive.
func ParseMigrationName(file string) (int, string, error) {
	m := migrationName.FindStringSubmatch(file)
	if m == nil {
		return 0, "", fmt.Errorf("migration file name %q does not match NNNN_name.sql", file)
	}
	v, err := strconv.Atoi(m[1])
	if err != nil || v <= 0 {
		return 0, "", fmt.Errorf("migration file name %q: version %q is not positive", file, m[1])
	}
	return v, m[2], nil
}

// Migration is one schema change file of a backend.
type Migration struct {
	Version int
	Name    string // "schema", "plain", "timescale", ...
	SQL     string
}

// LoadMigrations reads the NNNN_name.sql files of fsys's "migrations" directory, the
// one loader every SQL backend uses. out[v-1] holds version v's files sorted by name
// (a backend says how many it allows: one, or alternatives); versions run 1..n
// without gaps.
func LoadMigrations(fsys fs.FS) ([][]Migration, error) {
	entries, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	byVersion := map[int][]Migration{}
	for _, e := range entries {
		v, name, err := ParseMigrationName(e.Name())
		if err != nil {
			return nil, err
		}
		b, err := fs.ReadFile(fsys, "migrations/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		byVersion[v] = append(byVersion[v], Migration{Version: v, Name: name, SQL: string(b)})
	}
	out := make([][]Migration, len(byVersion))
	for v, ms := range byVersion {
		if v > len(byVersion) {
			return nil, fmt.Errorf("migration version %d: versions must run 1..%d without gaps", v, len(byVersion))
		}
		sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
		out[v-1] = ms
	}
	return out, nil
}

// MigrationNames lists the names of a version's files.
func MigrationNames(ms []Migration) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return out
}
