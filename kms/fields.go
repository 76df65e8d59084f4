package kms

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/tikv-ear/tikv-ear/kms/awskms"
	"github.com/tikv-ear/tikv-ear/kms/azurekms"
	"github.com/tikv-ear/tikv-ear/kms/core"
	"github.com/tikv-ear/tikv-ear/kms/filekey"
	"github.com/tikv-ear/tikv-ear/kms/gcpkms"
	"github.com/tikv-ear/tikv-ear/kms/vault"
)

// Fields lists the settings of a backend's [key.<backend>] table, so a form
// (the wizard) is generated from the backend; nil for an unknown backend.
// Each Key is a toml key of the backend's Config, so SpecFromFields and
// FieldValues map a form onto a Spec and back.
func Fields(backend string) []core.Field {
	switch backend {
	case core.BackendFile:
		return filekey.Fields()
	case core.BackendAWS:
		return awskms.Fields()
	case core.BackendVault:
		return vault.Fields()
	case core.BackendGCP:
		return gcpkms.Fields()
	case core.BackendAzure:
		return azurekms.Fields()
	}
	return nil
}

// table returns a pointer to the spec's Config for backend, allocating it.
func (s *Spec) table(backend string) (any, error) {
	switch backend {
	case core.BackendFile:
		if s.File == nil {
			s.File = &filekey.Config{}
		}
		return s.File, nil
	case core.BackendAWS:
		if s.AWS == nil {
			s.AWS = &awskms.Config{}
		}
		return s.AWS, nil
	case core.BackendVault:
		if s.Vault == nil {
			s.Vault = &vault.Config{}
		}
		return s.Vault, nil
	case core.BackendGCP:
		if s.GCP == nil {
			s.GCP = &gcpkms.Config{}
		}
		return s.GCP, nil
	case core.BackendAzure:
		if s.Azure == nil {
			s.Azure = &azurekms.Config{}
		}
		return s.Azure, nil
	}
	return nil, fmt.Errorf("key backend %q is unknown: choose %s, %s, %s, %s or %s", backend,
		core.BackendFile, core.BackendAWS, core.BackendVault, core.BackendGCP, core.BackendAzure)
}

// tomlFields maps each toml key of the struct v points to onto its field.
func tomlFields(v any) map[string]reflect.Value {
	rv := reflect.ValueOf(v).Elem()
	out := map[string]reflect.Value{}
	for i := range rv.NumField() {
		name, _, _ := strings.Cut(rv.Type().Field(i).Tag.Get("toml"), ",")
		if name != "" && name != "-" {
			out[name] = rv.Field(i)
		}
	}
	return out
}

// SpecFromFields builds the [key] spec of backend from a form's answers, keyed
// as Fields names them. Empty answers leave the setting unset; yes/no answers
// set a boolean. A key the backend has no setting for is an error.
func SpecFromFields(backend string, answers map[string]string) (Spec, error) {
	spec := Spec{Backend: backend}
	tbl, err := spec.table(backend)
	if err != nil {
		return spec, err
	}
	fields := tomlFields(tbl)
	for k, v := range answers {
		f, ok := fields[k]
		if !ok {
			return spec, fmt.Errorf("[key.%s] has no setting %q", backend, k)
		}
		v = strings.TrimSpace(v)
		switch f.Kind() {
		case reflect.String:
			f.SetString(v)
		case reflect.Bool:
			switch strings.ToLower(v) {
			case "", "no", "false":
				f.SetBool(false)
			case "yes", "true":
				f.SetBool(true)
			default:
				return spec, fmt.Errorf("[key.%s] %s = %q: answer yes or no", backend, k, v)
			}
		default:
			return spec, fmt.Errorf("[key.%s] %s is not a form setting", backend, k)
		}
	}
	return spec, nil
}

// FieldValues is the inverse of SpecFromFields for the settings Fields lists:
// a form pre-filled from a spec (the demo's key services). Booleans read
// "yes" or "no"; unset strings are left out.
func FieldValues(spec Spec) map[string]string {
	out := map[string]string{}
	tbl, err := spec.table(spec.Backend)
	if err != nil {
		return out
	}
	fields := tomlFields(tbl)
	for _, fd := range Fields(spec.Backend) {
		f, ok := fields[fd.Key]
		if !ok {
			continue
		}
		switch f.Kind() {
		case reflect.String:
			if s := f.String(); s != "" {
				out[fd.Key] = s
			}
		case reflect.Bool:
			out[fd.Key] = map[bool]string{true: "yes", false: "no"}[f.Bool()]
		}
	}
	return out
}
