package cli

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssdk "github.com/aws/aws-sdk-go-v2/service/kms"
	awstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/kms/kmstest"
)

// keAWSClient is this test's own client of local-kms (not the tool's).
func keAWSClient(lk *kmstest.LocalKMS) *awssdk.Client {
	cfg := aws.Config{Region: lk.Region, Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "test", "")}
	return awssdk.NewFromConfig(cfg, func(o *awssdk.Options) { o.BaseEndpoint = aws.String(lk.Endpoint) })
}

func keAWSState(t *testing.T, c *awssdk.Client, id string) awstypes.KeyState {
	t.Helper()
	out, err := c.DescribeKey(context.Background(), &awssdk.DescribeKeyInput{KeyId: aws.String(id)})
	if err != nil {
		t.Fatalf("DescribeKey %s: %v", id, err)
	}
	return out.KeyMetadata.KeyState
}

// keAWSEnv keeps the tool on the test's credentials file: no profile, IMDS or
// stray keys from the environment.
func keAWSEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "no-config"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// keAWSConfig writes a --key-config for local-kms with the dummy credentials file.
func keAWSConfig(t *testing.T, dir string, lk *kmstest.LocalKMS, body string) string {
	t.Helper()
	return keWriteFile(t, dir, "key.toml", fmt.Sprintf("[key]\nbackend = \"aws\"\n[key.aws]\n%scredentials-file = %q\n", body, lk.CredentialsFile))
}

// TestKeysAWSLifecycle runs the lifecycle on a real local-kms that the
// simulated TiKV nodes call too: rotation moves to next-key-id, a used-up
// next-key-id is refused, --incident creates a CMK and disables the old one.
func TestKeysAWSLifecycle(t *testing.T) {
	keAWSEnv(t)
	lk := kmstest.Start(t, kmstest.Options{})
	cl := keStartSim(t, lk.Endpoint)
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.toml")
	cfg := keAWSConfig(t, dir, lk, fmt.Sprintf("key-id = %q\nregion = %q\nendpoint = %q\nnext-key-id = %q\n",
		lk.Aliases[0], lk.Region, lk.Endpoint, lk.Aliases[1]))
	client := keAWSClient(lk)
	first, second := lk.ARN(lk.KeyIDs[0]), lk.ARN(lk.KeyIDs[1])

	r := keMust(t, kePlanArgs(cl, dir, "--env", "production", "--key-config", cfg)...)
	if !strings.Contains(r.stdout, "with a aws master key, environment production") && !strings.Contains(r.stdout, "aws master key") {
		t.Errorf("plan summary:\n%s", r)
	}
	p := keLoadPlan(t, plan)
	if p.Target.MasterKey.ID != first {
		t.Fatalf("planned key %q, want the ARN %s", p.Target.MasterKey.ID, first)
	}

	r = keMust(t, "apply", plan, "--yes")
	keReportVerified(t, r)
	keVerify(t, plan)
	for _, e := range keMasterKeys(t, cl) {
		mk := e.MasterKey
		if mk.Type != tikv.MasterKeyKMS || mk.Vendor != tikv.VendorAWS || mk.KeyID != first || mk.Region != lk.Region || mk.Endpoint != lk.Endpoint {
			t.Fatalf("tikv.toml after apply: %+v", mk)
		}
	}

	// TiKV fetches a KMS key itself: deliver has nothing to put on the hosts.
	before, planBefore := keConfigs(t, cl), keReadFile(t, plan)
	r = keMust(t, "deliver", plan)
	if strings.Count(r.stderr, "nothing to deliver: TiKV fetches its aws key from the KMS itself") != 3 {
		t.Errorf("deliver with a KMS key:\n%s", r)
	}
	keUnchanged(t, cl, before)
	if !bytes.Equal(keReadFile(t, plan), planBefore) {
		t.Error("deliver with a KMS key changed plan.toml")
	}

	r = keMust(t, "rotate", plan, "--yes")
	keReportVerified(t, r)
	keVerify(t, plan)
	if !strings.Contains(r.stderr, "new master key prepared: key "+second) {
		t.Errorf("rotate does not name the new CMK:\n%s", r)
	}
	p = keLoadPlan(t, plan)
	if p.Target.MasterKey.ID != second || p.Target.PreviousMasterKey != nil {
		t.Fatalf("plan after rotate: key %+v previous %+v", p.Target.MasterKey, p.Target.PreviousMasterKey)
	}
	for _, e := range keMasterKeys(t, cl) {
		if e.MasterKey.KeyID != second || e.PreviousMasterKey.Type != "" {
			t.Fatalf("tikv.toml after rotate: %+v", e)
		}
	}
	if st := keAWSState(t, client, first); st != awstypes.KeyStateEnabled {
		t.Errorf("a plain rotate changed the old key to %s", st)
	}

	if p.Target.Key.AWS.KeyID != second || p.Target.Key.AWS.NextKeyID != "" {
		t.Errorf("plan [target.key.aws] after rotate: %+v, want key-id = the new key and no next-key-id", p.Target.Key.AWS)
	}

	// next-key-id is used up: another rotation must not "rotate" to the key in
	// use (and then revoke it); it is refused before anything changes.
	before, planBefore = keConfigs(t, cl), keReadFile(t, plan)
	r = keRun(t, "rotate", plan, "--incident", "--yes")
	// Refused from the plan alone, before preflight (exit 2).
	keRefused(t, r, ExitUsage, "[target.key.aws] names no next-key-id and create-keys is off", "nothing was created and no host changed")
	keUnchanged(t, cl, before)
	if !bytes.Equal(planBefore, keReadFile(t, plan)) {
		t.Error("the refused rotation rewrote the plan")
	}
	if st := keAWSState(t, client, second); st != awstypes.KeyStateEnabled {
		t.Fatalf("the refused rotation left the key in use %s", st)
	}

	// The operator lets the tool create the next CMK.
	p.Target.Key.AWS.CreateKeys = true
	data, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	keWriteFile(t, dir, "plan.toml", string(data))
	r = keMust(t, "rotate", plan, "--incident", "--yes", "--retire-old")
	keReportRetired(t, keReportVerified(t, r), "old key "+second+" retired in aws (Disabled)")
	keVerify(t, plan)
	p = keLoadPlan(t, plan)
	third := p.Target.MasterKey.ID
	if third == second || third == first || !strings.HasPrefix(third, "arn:aws:kms:"+lk.Region+":") {
		t.Fatalf("plan after the incident rotation names %q", third)
	}
	// Revocation evidence: the old CMK is Disabled; the new one is Enabled.
	if st := keAWSState(t, client, second); st != awstypes.KeyStateDisabled {
		t.Errorf("old key %s is %s after the incident rotation, want Disabled", second, st)
	}
	if !strings.Contains(r.stderr, "old key "+second+" retired in aws (Disabled)") {
		t.Errorf("no retirement line:\n%s", r)
	}
	if st := keAWSState(t, client, third); st != awstypes.KeyStateEnabled {
		t.Errorf("new key %s is %s", third, st)
	}
	for _, e := range keMasterKeys(t, cl) {
		if e.MasterKey.KeyID != third {
			t.Fatalf("tikv.toml after the incident rotation: %+v", e)
		}
	}
}

// ---- vault ----

// keClosedURL returns an http URL on 127.0.0.1 where nothing listens.
func keClosedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	return u
}

// TestKeysAWSBadInput: a wrong region, an unknown key id and an unreachable
// KMS are each refused by plan with a clear message and a hint, and nothing changes.
func TestKeysAWSBadInput(t *testing.T) {
	keAWSEnv(t)
	lk := kmstest.Start(t, kmstest.Options{})
	cl := keStartSim(t, lk.Endpoint)
	before := keConfigs(t, cl)
	arn := lk.ARN(lk.KeyIDs[0])
	cases := []struct {
		name  string
		body  string
		words []string
	}{
		{"wrong region", fmt.Sprintf("key-id = %q\nregion = \"eu-central-1\"\nendpoint = %q\n", arn, lk.Endpoint),
			[]string{"is in region " + lk.Region, `region = "eu-central-1"`, `hint: set region = "` + lk.Region + `"`}},
		{"unknown key id", fmt.Sprintf("key-id = \"alias/no-such-key\"\nregion = %q\nendpoint = %q\n", lk.Region, lk.Endpoint),
			[]string{"alias/no-such-key not found in region " + lk.Region, "hint: check key-id and region"}},
		{"kms unreachable", fmt.Sprintf("key-id = %q\nregion = %q\nendpoint = %q\n", arn, lk.Region, keClosedURL(t)),
			[]string{"DescribeKey on key " + arn, "connection refused", "hint: check key-id and region"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := keAWSConfig(t, dir, lk, c.body)
			r := keRun(t, kePlanArgs(cl, dir, "--env", "production", "--key-config", cfg)...)
			keRefused(t, r, ExitFailure, append(c.words, "plan.toml was not written")...)
			if _, err := os.Stat(filepath.Join(dir, "plan.toml")); !os.IsNotExist(err) {
				t.Errorf("plan.toml was written: %v", err)
			}
			keUnchanged(t, cl, before)
		})
	}
}
