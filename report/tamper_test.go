package report

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

type signedFixture struct {
	files  Files
	report []byte
	env    Envelope
}

func newFixture(t testing.TB) signedFixture {
	t.Helper()
	s := newKeygenSigner(t, ECDSAP256)
	files, err := WriteSigned(context.Background(), t.TempDir(), smallReport(), s)
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := os.ReadFile(files.Report)
	raw, _ := os.ReadFile(files.Envelope)
	var env Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	return signedFixture{files: files, report: rep, env: env}
}

// tamper flips bit pattern x at byte i of the chosen target and verifies;
// it reports whether verification failed. target: 0 report.json, 1 payload, 2 signature.
func (f signedFixture) tamper(t testing.TB, dir string, target int, i int, x byte) (changed bool, err error) {
	rep := bytes.Clone(f.report)
	env := f.env
	payload, _ := base64.StdEncoding.DecodeString(env.Payload)
	sig, _ := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	switch target % 3 {
	case 0:
		rep[i%len(rep)] ^= x
	case 1:
		payload[i%len(payload)] ^= x
	case 2:
		sig[i%len(sig)] ^= x
	}
	env.Payload = base64.StdEncoding.EncodeToString(payload)
	env.Signatures = []Signature{{Sig: base64.StdEncoding.EncodeToString(sig)}}
	rp := filepath.Join(dir, "report.json")
	ep := filepath.Join(dir, "report.intoto.jsonl")
	raw, _ := json.Marshal(env)
	if err := os.WriteFile(rp, rep, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ep, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Verify(rp, VerifyOptions{KeyPath: f.files.PublicKey, EnvelopePath: ep})
	return x != 0, err
}

// TestTamperEveryByte flips every byte of report.json, of the signed payload
// and of the signature; verification must fail every time.
func TestTamperEveryByte(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	if _, err := f.tamper(t, dir, 0, 0, 0); err != nil {
		t.Fatalf("untampered fixture does not verify: %v", err)
	}
	payload, _ := base64.StdEncoding.DecodeString(f.env.Payload)
	sig, _ := base64.StdEncoding.DecodeString(f.env.Signatures[0].Sig)
	for target, n := range []int{len(f.report), len(payload), len(sig)} {
		for i := range n {
			if _, err := f.tamper(t, dir, target, i, 0x01); err == nil {
				t.Fatalf("target %d byte %d flipped and still verified", target, i)
			}
		}
	}
	// The bundle rejects a swapped public-key hint too (covered in signAndVerify) and a tampered report.
	if err := os.WriteFile(f.files.Report, append(bytes.Clone(f.report), ' '), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(f.files.Report, VerifyOptions{KeyPath: f.files.PublicKey, BundlePath: f.files.Bundle}); err == nil {
		t.Fatal("bundle verified a changed report.json")
	}
}

func FuzzVerifyTamper(f *testing.F) {
	fx := newFixture(f)
	dir := f.TempDir()
	f.Add(uint8(0), uint16(10), byte(0x80))
	f.Add(uint8(1), uint16(3), byte(0x01))
	f.Add(uint8(2), uint16(40), byte(0xff))
	f.Fuzz(func(t *testing.T, target uint8, i uint16, x byte) {
		changed, err := fx.tamper(t, dir, int(target), int(i), x)
		if changed && err == nil {
			t.Fatalf("target %d byte %d ^ %#x verified", target%3, i, x)
		}
		if !changed && err != nil {
			t.Fatalf("untampered input failed: %v", err)
		}
	})
}
