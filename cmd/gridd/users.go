package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/gridd/gridd/api"
)

const userUsage = `usage:
  gridd user add --name NAME --role ROLE [--operator OWNER] [--chargers ID,ID] [--password PW | --no-password] [--token] [--data-dir DIR]
  gridd user token --name NAME [--data-dir DIR]
  gridd user list [--data-dir DIR]
  gridd user revoke --name NAME (--token-id ID | --all) [--data-dir DIR]
  gridd user delete --name NAME [--data-dir DIR]
A running gridd picks up every change within a second (new, changed and deleted
accounts, revoked tokens); a deleted account's console sessions end with it.
roles: admin, dispatcher, operator (scoped to its chargers), planner, viewer
`

// cmdUser manages the accounts of the API and console (users.json in the data directory).
func cmdUser(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, userUsage)
		return usageError{errors.New("name a user subcommand")}
	}
	fl := flag.NewFlagSet("user "+args[0], flag.ContinueOnError)
	cliFlags(fl, stderr)
	dataDir := fl.String("data-dir", "./gridd-data", "data directory holding "+api.UsersFile)
	name := fl.String("name", "", "user name")
	role := fl.String("role", "", "role")
	operator := fl.String("operator", "", "operator: the owner name of its chargers in the site config")
	chargers := fl.String("chargers", "", "operator: comma-separated charger device IDs")
	password := fl.String("password", "", "password (default: a random one, printed once)")
	noPassword := fl.Bool("no-password", false, "no console login (API token only)")
	token := fl.Bool("token", false, "also create an API token (printed once)")
	tokenID := fl.String("token-id", "", "revoke: the ID of the token to revoke (see gridd user list)")
	all := fl.Bool("all", false, "revoke: every token of the user")
	if err := fl.Parse(args[1:]); err != nil {
		return err
	}
	users, err := api.OpenUsers(filepath.Join(*dataDir, api.UsersFile))
	if err != nil {
		return err
	}
	now := time.Now()
	switch args[0] {
	case "add":
		if *name == "" || *role == "" {
			return usageError{errors.New("--name and --role are required")}
		}
		u := api.User{Name: *name, Role: api.Role(*role), Operator: *operator}
		if *chargers != "" {
			u.Chargers = strings.Split(*chargers, ",")
		}
		pw := *password
		if pw == "" && !*noPassword {
			pw = api.RandomPassword()
			fmt.Fprintf(stdout, "password for %s: %s\n", *name, pw)
		}
		if err := users.Put(u, pw, now); err != nil {
			return fmt.Errorf("user %s: %w", *name, err)
		}
		fmt.Fprintf(stdout, "user %s (%s) saved in %s\n", *name, *role, filepath.Join(*dataDir, api.UsersFile))
		if *token {
			tok, err := users.NewToken(*name, now)
			if err != nil {
				return err
			}
			printToken(stdout, users, *name, tok)
		}
		return nil
	case "token":
		if *name == "" {
			return usageError{errors.New("--name is required")}
		}
		tok, err := users.NewToken(*name, now)
		if err != nil {
			return err
		}
		printToken(stdout, users, *name, tok)
		return nil
	case "revoke":
		if *name == "" || (*tokenID == "") == !*all {
			return usageError{errors.New("--name and exactly one of --token-id ID and --all are required")}
		}
		n, err := users.RevokeToken(*name, *tokenID)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %d token(s) of %s\n", n, *name)
		return nil
	case "delete":
		if *name == "" {
			return usageError{errors.New("--name is required")}
		}
		if err := users.Delete(*name); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %s deleted\n", *name)
		return nil
	case "list":
		if users.Len() == 0 {
			fmt.Fprintln(stdout, "no users")
		}
		for _, n := range users.Names() {
			u, _ := users.Get(n)
			scope := ""
			if u.Role == api.RoleOperator {
				scope = fmt.Sprintf(" operator=%q chargers=%v", u.Operator, u.Chargers)
			}
			ids := make([]string, 0, len(u.Tokens))
			for _, t := range u.Tokens {
				ids = append(ids, t.ID)
			}
			fmt.Fprintf(stdout, "%s\t%s\tpassword=%v\ttokens=%d%v%s\n", u.Name, u.Role, u.PasswordHash != "", len(u.Tokens), ids, scope)
		}
		return nil
	}
	fmt.Fprint(stderr, userUsage)
	return usageError{fmt.Errorf("unknown user subcommand %q", args[0])}
}

// printToken prints a new token once, with the ID that revokes it.
func printToken(w io.Writer, users *api.Users, name, tok string) {
	id := ""
	if u, ok := users.Get(name); ok && len(u.Tokens) > 0 {
		id = u.Tokens[len(u.Tokens)-1].ID
	}
	fmt.Fprintf(w, "token id %s (revoke with gridd user revoke --name %s --token-id %s)\n", id, name, id)
	fmt.Fprintf(w, "API token for %s (shown once): %s\n", name, tok)
}
