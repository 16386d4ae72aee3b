package storage

import (
	"fmt"
	"regexp"
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
