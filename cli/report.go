package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tikv-ear/tikv-ear/report"
)

// ReportCmd groups report subcommands.
type ReportCmd struct {
	Verify ReportVerifyCmd `cmd:"" help:"Verify a signed report offline: signature, subject digest and schema."`
}

// ReportVerifyCmd checks report.json against its bundle or DSSE envelope.
type ReportVerifyCmd struct {
	Report   string `arg:"" type:"existingfile" help:"report.json"`
	Key      string `name:"key" type:"existingfile" help:"Public key (pub.pem) published by the operator; default pub.pem beside the report."`
	Bundle   string `name:"bundle" type:"existingfile" help:"Sigstore bundle (report.sigstore.json); default beside the report."`
	Envelope string `name:"envelope" type:"existingfile" help:"DSSE envelope (report.intoto.jsonl) instead of the bundle."`
	Output   string `name:"output" short:"o" enum:"text,json" default:"text" help:"text or json."`
}

// Run verifies and prints what was verified.
func (c *ReportVerifyCmd) Run(g *Globals) error {
	dir := filepath.Dir(c.Report)
	opts := report.VerifyOptions{KeyPath: c.Key, BundlePath: c.Bundle, EnvelopePath: c.Envelope}
	if opts.KeyPath == "" {
		opts.KeyPath = filepath.Join(dir, "pub.pem")
		fmt.Fprintf(g.IO.Err, "tikv-ear: warning: using %s from beside the report; an auditor should pass --key with the key published out of band\n", opts.KeyPath)
	}
	if opts.BundlePath == "" && opts.EnvelopePath == "" {
		opts.BundlePath = filepath.Join(dir, "report.sigstore.json")
		if _, err := os.Stat(opts.BundlePath); err != nil {
			opts.BundlePath, opts.EnvelopePath = "", filepath.Join(dir, "report.intoto.jsonl")
		}
	}
	res, err := report.Verify(c.Report, opts)
	if err != nil {
		return &Error{Msg: fmt.Sprintf("%s did NOT verify: %v", c.Report, err), Hints: []string{"the report, its signature or the key differ from what was signed: treat the report as untrusted"}, Code: ExitFailure}
	}
	if c.Output == "json" {
		return writeJSON(g.IO.Out, res)
	}
	fmt.Fprintf(g.IO.Out, "verified %s\n", c.Report)
	for _, chk := range res.Checks {
		fmt.Fprintf(g.IO.Out, "  ✓ %s\n", chk)
	}
	return nil
}

// KeygenCmd writes a report signing key.
type KeygenCmd struct {
	Out    string `name:"out-file" default:"tikv-ear-signing.pem" type:"path" help:"Private key file to write (0600); pub.pem is written beside it."`
	OutOld string `name:"out" hidden:"" type:"path" help:"Deprecated spelling of --out-file."`
	Alg    string `name:"alg" enum:"ecdsa-p256,ed25519" default:"ecdsa-p256" help:"ecdsa-p256 (cosign-compatible) or ed25519."`
	Output string `name:"output" short:"o" enum:"text,json" default:"text" help:"text, or json (the paths of the two files written)."`
}

// KeygenResult is the --output json document of keygen.
type KeygenResult struct {
	PrivateKey string `json:"private_key"`
	PublicKey  string `json:"public_key"`
}

// Run generates the key.
func (c *KeygenCmd) Run(g *Globals) error {
	deprecatedFlag(g, "--out", "--out-file", c.OutOld, &c.Out)
	pub, err := report.Keygen(c.Out, report.Algorithm(c.Alg))
	if err != nil {
		hint := "choose another --out-file, or remove the old key first"
		if errors.Is(err, fs.ErrNotExist) {
			hint = "create the directory first, or choose another --out-file"
		}
		return Failf(hint, "%v", err)
	}
	fmt.Fprintf(g.IO.Err, "tikv-ear: wrote %s (0600) and %s; publish %s to auditors out of band and set [report] key-file in the plan\n", c.Out, pub, pub)
	if c.Output == "json" {
		return writeJSON(g.IO.Out, KeygenResult{PrivateKey: c.Out, PublicKey: pub})
	}
	return nil
}
