package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// Canonical returns the deterministic bytes of r as written to report.json:
// the report is validated, every string passes through Redact, every time is
// converted to UTC, object keys are sorted, there are no floats, and the
// output is indented by two spaces and ends with a newline. r is not modified.
func Canonical(r *Report) ([]byte, error) {
	if r == nil {
		return nil, errors.New("canonical report: report is nil")
	}
	cp, err := normalized(r)
	if err != nil {
		return nil, err
	}
	if err := cp.Validate(); err != nil {
		return nil, fmt.Errorf("canonical report: %w", err)
	}
	raw, err := json.Marshal(cp)
	if err != nil {
		return nil, fmt.Errorf("canonical report: %w", err)
	}
	return canonicalJSON(raw)
}

// canonicalJSON re-encodes a JSON document with sorted keys, rejecting
// non-integer numbers.
func canonicalJSON(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("canonical report: %w", err)
	}
	if err := rejectFloats(v, "$"); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil { // maps encode with sorted keys
		return nil, fmt.Errorf("canonical report: %w", err)
	}
	return buf.Bytes(), nil
}

func rejectFloats(v any, path string) error {
	switch x := v.(type) {
	case json.Number:
		if strings.ContainsAny(string(x), ".eE") {
			return fmt.Errorf("canonical report: %s is the non-integer number %s; reports hold integers or strings only", path, x)
		}
	case map[string]any:
		for k, e := range x {
			if err := rejectFloats(e, path+"."+k); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range x {
			if err := rejectFloats(e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// normalized returns a deep copy of r with every string redacted and every time in UTC.
func normalized(r *Report) (*Report, error) {
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("copying report: %w", err)
	}
	var cp Report
	if err := json.Unmarshal(raw, &cp); err != nil {
		return nil, fmt.Errorf("copying report: %w", err)
	}
	scrub(reflect.ValueOf(&cp).Elem())
	return &cp, nil
}

var timeType = reflect.TypeFor[time.Time]()

// azureKeyVersionRE is an Azure Key Vault key version: the last segment of a
// key identifier https://{vault}/keys/{name}/{version}, 32 lower-case hex
// digits (azkeys ID.Version(); Key Vault REST "Key Vault keys" docs). Only in
// fields tagged redact:"key-version" is such a run kept: Redact would take it
// for key material (hex runs of 32 or more).
var azureKeyVersionRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// scrub walks v, redacting strings (map keys included) and converting times to UTC.
func scrub(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			v.SetString(Redact(v.String()))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			scrub(v.Elem())
		}
	case reflect.Struct:
		if v.Type() == timeType {
			if v.CanSet() {
				v.Set(reflect.ValueOf(v.Interface().(time.Time).UTC()))
			}
			return
		}
		for i := range v.NumField() {
			if f := v.Field(i); v.Type().Field(i).Tag.Get("redact") == "key-version" && f.Kind() == reflect.String && azureKeyVersionRE.MatchString(f.String()) {
				continue // a key version identifier, not key material
			}
			scrub(v.Field(i))
		}
	case reflect.Slice:
		for i := range v.Len() {
			scrub(v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		iter := v.MapRange()
		for iter.Next() {
			k := reflect.New(v.Type().Key()).Elem()
			k.Set(iter.Key())
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(iter.Value())
			scrub(k)
			scrub(e)
			out.SetMapIndex(k, e)
		}
		v.Set(out)
	}
}

// Load reads and validates a report.json written by WriteSigned or Canonical.
// Unknown fields are an error: a report must match its schema exactly.
func Load(path string) (*Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading report %s: %w", path, err)
	}
	return parse(path, data)
}

func parse(path string, data []byte) (*Report, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Report
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("parsing report %s: %w", path, jsonError(data, err))
	}
	if dec.More() {
		return nil, fmt.Errorf("parsing report %s: trailing data after the JSON object; a report file holds exactly one object", path)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("report %s: %w", path, err)
	}
	return &r, nil
}

// jsonError adds a line number to encoding/json errors.
func jsonError(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("line %d: %w", lineOf(data, syn.Offset), err)
	case errors.As(err, &typ):
		return fmt.Errorf("line %d: field %q: %w", lineOf(data, typ.Offset), typ.Field, err)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return fmt.Errorf("%w (not part of schema %s; remove it or use a newer tikv-ear)", err, SchemaV1)
	}
	return err
}

func lineOf(data []byte, off int64) int {
	off = min(max(off, 0), int64(len(data)))
	return bytes.Count(data[:off], []byte("\n")) + 1
}

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// Validate checks r against schema v1: the schema name, kind, outcome,
// required identities, digest formats, method and master-key values,
// unique store ids, time order and enum fields. The error lists every
// problem with its JSON path and the fix.
func (r *Report) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{path}, args...)...))
	}
	if r.Schema != SchemaV1 {
		bad("schema", "is %q, want %q", r.Schema, SchemaV1)
	}
	if !validKind(r.Kind) {
		bad("kind", "%q is not a run kind; use one of %v", r.Kind, Kinds())
	}
	switch r.Outcome {
	case OutcomeSucceeded, OutcomeFailed, OutcomeAborted, OutcomePartial:
	default:
		bad("outcome", "%q is not an outcome; use succeeded, failed, aborted or partial", r.Outcome)
	}
	if r.Cluster.PDClusterID == "" {
		bad("cluster.pd_cluster_id", "is empty; set the PD cluster id (GET /pd/api/v1/cluster)")
	}
	if r.Tool.Name == "" || r.Tool.Version == "" {
		bad("tool", "name and version are required")
	}
	if r.Operator == "" {
		bad("operator", "is empty; record who ran the tool")
	}
	checkDigest(bad, "plan_digest", r.PlanDigest)
	if r.StartedAt.IsZero() {
		bad("started_at", "is missing")
	}
	if !r.FinishedAt.IsZero() && r.FinishedAt.Before(r.StartedAt) {
		bad("finished_at", "is before started_at")
	}
	if r.Stores == nil {
		bad("stores", "is missing; use an empty list when no store was touched")
	}
	seen := map[uint64]bool{}
	for i, s := range r.Stores {
		p := fmt.Sprintf("stores[%d]", i)
		if s.ID == 0 {
			bad(p+".id", "is 0; use the PD store id")
		}
		if seen[s.ID] {
			bad(p+".id", "store %d appears twice", s.ID)
		}
		seen[s.ID] = true
		for _, st := range []struct {
			name  string
			state StoreState
		}{{"before", s.Before}, {"after", s.After}} {
			sp := p + "." + st.name
			if !validMethod(st.state.Method) {
				bad(sp+".method", "%q is not a data-encryption-method; use one of %v", st.state.Method, tikv.Methods())
			}
			switch st.state.MasterKey.Type {
			case tikv.MasterKeyPlaintext, tikv.MasterKeyFile, tikv.MasterKeyKMS:
			default:
				bad(sp+".master_key.type", "%q is not a master-key type; use plaintext, file or kms", st.state.MasterKey.Type)
			}
			checkDigest(bad, sp+".config_digest", st.state.ConfigDigest)
			checkDigest(bad, sp+".master_key.fingerprint", st.state.MasterKey.Fingerprint)
		}
	}
	for i, e := range r.Timeline {
		p := fmt.Sprintf("timeline[%d]", i)
		if e.At.IsZero() || e.Phase == "" || e.Status == "" {
			bad(p, "at, phase and status are required")
		}
		if d := e.Decision; d != nil && d.DecidedBy != DecidedByPolicy && !strings.HasPrefix(d.DecidedBy, "operator:") {
			bad(p+".decision.decided_by", "%q must be %q or \"operator:<name>\"", d.DecidedBy, DecidedByPolicy)
		}
	}
	for i, f := range r.Findings {
		switch f.Severity {
		case SeverityCritical, SeverityHigh, SeverityMedium, SeverityLow, SeverityInfo:
		default:
			bad(fmt.Sprintf("findings[%d].severity", i), "%q is not a severity; use critical, high, medium, low or info", f.Severity)
		}
	}
	for i, k := range r.Keys {
		for j, v := range k.Versions {
			checkDigest(bad, fmt.Sprintf("keys[%d].versions[%d].fingerprint", i, j), v.Fingerprint)
		}
	}
	return errors.Join(errs...)
}

func checkDigest(bad func(string, string, ...any), path, v string) {
	if v != "" && !digestRE.MatchString(v) {
		bad(path, "is not of the form sha256:<64 lowercase hex>")
	}
}

func validKind(k Kind) bool {
	for _, x := range Kinds() {
		if x == k {
			return true
		}
	}
	return false
}

func validMethod(m string) bool {
	for _, x := range tikv.Methods() {
		if x == m {
			return true
		}
	}
	return false
}

// Digest returns "sha256:<hex>" of data, the form used for plan and config digests.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// fingerprintDomain separates key fingerprints from plain digests of the same bytes.
const fingerprintDomain = "tikv-ear key fingerprint v1\x00"

// Fingerprint returns a one-way identity for key material:
// "sha256:" + hex(SHA-256("tikv-ear key fingerprint v1\x00" || key)).
// It is the only function in this package that accepts key bytes, and it
// keeps none of them.
func Fingerprint(key []byte) string {
	h := sha256.New()
	h.Write([]byte(fingerprintDomain))
	h.Write(key)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
