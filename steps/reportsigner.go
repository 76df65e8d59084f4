package steps

import (
	"cmp"
	"context"
	"fmt"
	"os"

	"github.com/tikv-ear/tikv-ear/report"
)

// validate checks the [report] signer choice; bad builds the PlanError.
func (r ReportSection) validate(bad func(key, msg, fix string) error) error {
	switch r.Signer {
	case "", report.SignerFile:
	case report.SignerVault:
		if r.Vault == nil || r.Vault.Key == "" {
			return bad("report.vault.key", `signer = "vault" names no transit key`,
				"add [report.vault] key = \"tikv-ear-report\" (a transit key of type ecdsa-p256: vault write -f transit/keys/tikv-ear-report type=ecdsa-p256)")
		}
	case report.SignerAWS:
		if r.AWS == nil || r.AWS.KeyID == "" {
			return bad("report.aws.key-id", `signer = "aws" names no KMS key`,
				"add [report.aws] key-id = \"alias/tikv-ear-report\" (an ECC_NIST_P256 key with KeyUsage SIGN_VERIFY)")
		}
	default:
		return bad("report.signer", fmt.Sprintf("%q is not a report signer", r.Signer), "use one of "+fmt.Sprint(report.SignerKinds()))
	}
	if r.Signer != report.SignerVault && r.Vault != nil {
		return bad("report.vault", fmt.Sprintf("[report.vault] is set but signer = %q", r.Signer), `set signer = "vault", or remove [report.vault]`)
	}
	if r.Signer != report.SignerAWS && r.AWS != nil {
		return bad("report.aws", fmt.Sprintf("[report.aws] is set but signer = %q", r.Signer), `set signer = "aws", or remove [report.aws]`)
	}
	return nil
}

// SignerConfig is the plan's [report] signer choice for report.OpenSigner,
// with dir as the report directory. A Vault or AWS signer that names no
// address, token file, region or endpoint of its own reaches its service the
// way the plan's [target.key] backend does, when that backend is the same
// service.
func (p *Plan) SignerConfig(dir string) report.SignerConfig {
	r := p.Report
	cfg := report.SignerConfig{Kind: r.Signer, KeyFile: r.KeyFile, Dir: dir}
	if r.Vault != nil {
		v := *r.Vault
		if k := p.Target.Key.Vault; p.Target.Key.Backend == "vault" && k != nil {
			v.Address = cmp.Or(v.Address, k.Address)
			v.Namespace = cmp.Or(v.Namespace, k.Namespace)
			v.CACert = cmp.Or(v.CACert, k.CACert)
			v.TokenFile = cmp.Or(v.TokenFile, k.TokenFile)
		}
		cfg.Vault = &v
	}
	if r.AWS != nil {
		a := *r.AWS
		if k := p.Target.Key.AWS; p.Target.Key.Backend == "aws" && k != nil {
			a.Region = cmp.Or(a.Region, k.Region)
			a.Endpoint = cmp.Or(a.Endpoint, k.Endpoint)
			a.Profile = cmp.Or(a.Profile, k.Profile)
			a.CredentialsFile = cmp.Or(a.CredentialsFile, k.CredentialsFile)
		}
		cfg.AWS = &a
	}
	return cfg
}

// SignerCheck opens the plan's report signer read-only, so a run whose report
// could not be signed as the plan says is refused before any host changes.
func SignerCheck(ctx context.Context, p *Plan) Check {
	desc, err := report.CheckSigner(ctx, p.SignerConfig(""), os.Getenv)
	if err != nil {
		return Check{ID: "report-signer", Status: Fail, Message: "the report cannot be signed: " + err.Error(),
			Fix: "fix [report] in the plan (docs/audit.md); tikv-ear never falls back to another signer"}
	}
	return Check{ID: "report-signer", Status: Pass, Message: desc}
}
