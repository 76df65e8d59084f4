// Package archtest holds the import rules of docs/architecture.md: its test
// reads the rules table there and checks every package of the module against
// it with 'go list -json'. It has no code of its own.
package archtest
