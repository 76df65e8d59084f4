// Package kmstest holds test helpers shared by every package that tests against
// key backends: an in-memory core.Host and StartLocalKMS, which runs a real
// nsmithuk/local-kms (AWS KMS emulator) on 127.0.0.1 for one test. It is for
// tests only and never touches real key services.
package kmstest
