// Package toydriver is a fieldbus driver for tests: devices held in memory behind
// toy://NAME endpoints. It is what CONTRIBUTING.md's "A new protocol driver" recipe
// produces, and cmd/gridd's TestToyDriverRecipe follows that recipe with it: this
// package plus one registration line (a blank import), nothing else.
package toydriver
