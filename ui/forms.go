package ui

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"

	"github.com/tikv-ear/tikv-ear/steps"
)

// formKind says which prompt a form is.
type formKind int

const (
	formConnect formKind = iota + 1
	formBackend
	formSave
	formSigner
)

// formValues is where a form writes; each form gets a fresh one, handed to
// the model only when the form is done.
type formValues struct {
	env, tiup, pd, sshUser, identity, knownHosts, sshConfig string
	path                                                    string
	fields                                                  map[string]*string
	signer                                                  string
	signerKeys                                              map[string]*string
}

// formDoneMsg ends a prompt run outside the program (accessible mode).
type formDoneMsg struct {
	kind formKind
	vals *formValues
	err  error
}

// newForm wraps groups with the wizard's theme and keys.
func (m *Model) newForm(groups ...*huh.Group) *huh.Form {
	return huh.NewForm(groups...).
		WithTheme(huhTheme()).
		WithShowHelp(false).
		WithWidth(min(max(m.width-2, 20), 100))
}

// show embeds the form, or in accessible mode runs it as plain prompts with
// the terminal released (tea.Exec), delivering the values in a formDoneMsg.
func (m *Model) show(kind formKind, f *huh.Form, vals *formValues) tea.Cmd {
	if m.opts.Accessible {
		return tea.Exec(&accessibleForm{form: f}, func(err error) tea.Msg {
			return formDoneMsg{kind: kind, vals: vals, err: err}
		})
	}
	m.form, m.formKind, m.formVals = f, kind, vals
	init := f.Init()
	if m.bg != nil { // the form picks its light or dark theme from this
		f.Update(m.bg)
	}
	return init
}

// accessibleForm runs a huh form line by line on the program's terminal.
type accessibleForm struct {
	form     *huh.Form
	in       io.Reader
	out, err io.Writer
}

func (a *accessibleForm) SetStdin(r io.Reader)  { a.in = r }
func (a *accessibleForm) SetStdout(w io.Writer) { a.out = w }
func (a *accessibleForm) SetStderr(w io.Writer) { a.err = w }

// Run asks every field.
func (a *accessibleForm) Run() error {
	f := a.form.WithAccessible(true)
	if a.in != nil {
		f = f.WithInput(a.in)
	}
	if a.out != nil {
		f = f.WithOutput(a.out)
	}
	if err := f.Run(); err != nil {
		return fmt.Errorf("prompt: %w", err)
	}
	return nil
}

// connectForm asks how to reach the cluster, pre-filled from the flags.
func (m *Model) connectForm() tea.Cmd {
	c := m.connect
	v := &formValues{env: c.Environment, tiup: c.TiUPName, pd: strings.Join(c.PD, ","), sshUser: c.SSHUser,
		identity: c.Identity, knownHosts: c.KnownHosts, sshConfig: c.SSHConfig}
	f := m.newForm(
		huh.NewGroup(
			huh.NewSelect[string]().Title("Environment").
				Description("production refuses a file master key").
				Options(huh.NewOptions(steps.EnvProduction, steps.EnvStaging, steps.EnvDev)...).Value(&v.env),
			huh.NewInput().Title("TiUP cluster name").Description("optional: its meta.yaml gives PD, hosts and paths").Value(&v.tiup),
			huh.NewInput().Title("PD endpoints").Description("comma-separated, e.g. http://pd-1:2379").
				Placeholder("http://127.0.0.1:2379").Value(&v.pd).
				Validate(func(s string) error {
					if strings.TrimSpace(s) == "" && strings.TrimSpace(v.tiup) == "" {
						return fmt.Errorf("give PD endpoints or a TiUP cluster name")
					}
					_, err := ParseEndpoints(s)
					return err
				}),
		).Title("Cluster"),
		huh.NewGroup(
			huh.NewInput().Title("SSH user").Placeholder("tidb").Value(&v.sshUser),
			huh.NewInput().Title("SSH identity file").Description("empty: ssh-agent").Value(&v.identity),
			huh.NewInput().Title("known_hosts file").Description("host keys are always checked").Placeholder("~/.ssh/known_hosts").Value(&v.knownHosts),
			huh.NewInput().Title("ssh_config file").Description("optional: Host, HostName, Port, User").Value(&v.sshConfig),
		).Title("SSH"),
	)
	return m.show(formConnect, f, v)
}

// backendForm asks the chosen backend's fields, validated as typed, a few
// per page so each page fits 80x24; advanced fields come last. Values start
// from this backend's own last answers, else the pre-filled ones: no answer
// of another backend's form ever shows here.
func (m *Model) backendForm(b BackendOption) tea.Cmd {
	v := &formValues{fields: map[string]*string{}}
	own := m.fields // the current backend's answers (selectBackend keeps them per backend)
	var main, adv []huh.Field
	for _, fd := range b.Fields {
		val := fd.Value
		if cur, ok := own[fd.Key]; ok {
			val = cur
		}
		p := &val
		v.fields[fd.Key] = p
		in := huh.NewInput().Title(fieldTitle(fd)).Description(fieldHelp(fd)).Value(p).Validate(fieldValidator(fd))
		if fd.Placeholder != "" {
			in = in.Placeholder(placeholderText(fd.Placeholder))
		}
		if fd.Advanced {
			adv = append(adv, in)
		} else {
			main = append(main, in)
		}
	}
	if len(main)+len(adv) == 0 {
		return func() tea.Msg { return formDoneMsg{kind: formBackend, vals: v} }
	}
	pages := append(chunk(main, fieldsPerPage, b.Title), chunk(adv, fieldsPerPage, b.Title+" · advanced, optional")...)
	groups := make([]*huh.Group, 0, len(pages)+3)
	for i, pg := range pages {
		groups = append(groups, huh.NewGroup(pg.fields...).Title(fmt.Sprintf("%s (%d/%d)", pg.title, i+1, len(pages))))
	}
	return m.show(formBackend, m.newForm(groups...), v)
}

// Report signer kinds ([report] signer; report.SignerKinds).
const (
	signerFile  = "file"
	signerVault = "vault"
	signerAWS   = "aws"
)

// signerChoice is the chosen report signer and the key it names.
func (m *Model) signerChoice() (kind, key string) {
	kind = m.signer
	if kind == "" {
		kind = m.opts.Signer
	}
	if kind == "" || kind == signerFile {
		return signerFile, ""
	}
	if k, ok := m.signerKeys[kind]; ok {
		return kind, k
	}
	return kind, m.opts.SignerKeys[kind]
}

// signerForm asks which key signs the run's report.
func (m *Model) signerForm() tea.Cmd {
	v := &formValues{}
	return m.show(formSigner, m.newForm(m.signerGroups(v)...), v)
}

// signerGroups asks which key signs the run's report: a file key generated
// in the report directory, a Vault transit key or an AWS KMS key. The engine
// refuses (preflight "report-signer") a signer it cannot use; it never falls
// back to another.
func (m *Model) signerGroups(v *formValues) []*huh.Group {
	v.signer, _ = m.signerChoice()
	v.signerKeys = map[string]*string{}
	for _, k := range []string{signerVault, signerAWS} {
		val := m.opts.SignerKeys[k]
		if cur, ok := m.signerKeys[k]; ok {
			val = cur
		}
		v.signerKeys[k] = &val
	}
	required := func(what string) func(string) error {
		return func(s string) error {
			if strings.TrimSpace(s) == "" {
				return fmt.Errorf("name the %s, or go back and choose the file signer", what)
			}
			return nil
		}
	}
	return []*huh.Group{
		huh.NewGroup(huh.NewSelect[string]().Title("Report signer").
			Description("the key that signs this run's report; never replaced by another").
			Options(huh.NewOption("file: a P-256 key generated in the report directory", signerFile),
				huh.NewOption("vault: a Vault transit key (ecdsa-p256)", signerVault),
				huh.NewOption("aws: an AWS KMS key (ECC_NIST_P256, SIGN_VERIFY)", signerAWS)).
			Value(&v.signer)).Title("Report signing"),
		huh.NewGroup(huh.NewInput().Title("Transit key *").
			Description("reached like the Vault backend (its address and token), else VAULT_ADDR and VAULT_TOKEN").
			Placeholder(placeholderText("tikv-ear-report")).Value(v.signerKeys[signerVault]).Validate(required("transit key"))).
			Title("Report signing · Vault").WithHideFunc(func() bool { return v.signer != signerVault }),
		huh.NewGroup(huh.NewInput().Title("KMS key *").
			Description("key id, ARN or alias/NAME; reached like the AWS backend, else the SDK's default chain").
			Placeholder(placeholderText("alias/tikv-ear-report")).Value(v.signerKeys[signerAWS]).Validate(required("KMS key"))).
			Title("Report signing · AWS KMS").WithHideFunc(func() bool { return v.signer != signerAWS }),
	}
}

// fieldsPerPage is how many inputs a form page shows: each takes a title, a
// help line, the input and a blank line, so three fit an 80x24 screen.
const fieldsPerPage = 3

type formPage struct {
	title  string
	fields []huh.Field
}

// chunk splits fields into pages of at most n, all titled title.
func chunk(fields []huh.Field, n int, title string) []formPage {
	var out []formPage
	for len(fields) > 0 {
		k := min(n, len(fields))
		out = append(out, formPage{title: title, fields: fields[:k]})
		fields = fields[k:]
	}
	return out
}

// placeholderText marks an example as one, so an empty input never looks filled.
func placeholderText(p string) string { return "e.g. " + p }

// fieldTitle is the input's title; required fields say so.
func fieldTitle(fd BackendField) string {
	if fd.Required {
		return fd.Label + " *"
	}
	return fd.Label
}

// fieldHelp is the input's description: its help, and for a secret, that the
// form wants the file's path, never the secret.
func fieldHelp(fd BackendField) string {
	h := fd.Help
	switch {
	case fd.Secret:
		h = strings.TrimSpace(h + " · a path: the secret itself is never typed here")
	case fd.Format == formatYesNo:
		h = strings.TrimSpace(h + " · yes or no")
	}
	return h
}

// Field formats (kms/core Format*).
const (
	formatURL     = "url"
	formatHTTPS   = "https"
	formatYesNo   = "yesno"
	formatAbsPath = "abspath"
)

// checkFormat checks s against a field format; the error is one line with a
// hint and never echoes more than the value typed.
func checkFormat(fd BackendField, s string) error {
	label := strings.ToLower(fd.Label)
	eg := ""
	if fd.Placeholder != "" {
		eg = ", " + placeholderText(fd.Placeholder)
	}
	switch fd.Format {
	case formatURL, formatHTTPS:
		scheme := "http(s)"
		if fd.Format == formatHTTPS {
			scheme = "https"
		}
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || strings.ContainsAny(s, " \t") || (u.Path != "" && u.Path != "/") || u.RawQuery != "" ||
			(u.Scheme != "https" && (fd.Format == formatHTTPS || u.Scheme != "http")) {
			return fmt.Errorf("%s: use %s://HOST:PORT%s", label, scheme, eg)
		}
	case formatYesNo:
		if s != "yes" && s != "no" {
			return fmt.Errorf("%s: answer yes or no", label)
		}
	case formatAbsPath:
		if !strings.HasPrefix(s, "/") {
			return fmt.Errorf("%s: use an absolute path on the hosts%s", label, eg)
		}
	}
	return nil
}

// missingOneOf names the OneOf groups of b none of whose fields is set.
func missingOneOf(b BackendOption, vals map[string]string) []string {
	set, labels := map[string]bool{}, map[string][]string{}
	var order []string
	for _, fd := range b.Fields {
		if fd.OneOf == "" {
			continue
		}
		if _, ok := labels[fd.OneOf]; !ok {
			order = append(order, fd.OneOf)
		}
		labels[fd.OneOf] = append(labels[fd.OneOf], strings.ToLower(fd.Label))
		set[fd.OneOf] = set[fd.OneOf] || vals[fd.Key] != ""
	}
	var out []string
	for _, g := range order {
		if !set[g] {
			out = append(out, fmt.Sprintf("the %s needs one of: %s", g, strings.Join(labels[g], ", ")))
		}
	}
	return out
}

// saveForm asks where to write plan.toml.
func (m *Model) saveForm() tea.Cmd {
	v := &formValues{path: m.opts.PlanPath}
	return m.show(formSave, m.newForm(huhSaveGroup(v)), v)
}

// huhSaveGroup is the one question of saveForm.
func huhSaveGroup(v *formValues) *huh.Group {
	return huh.NewGroup(huh.NewInput().Title("Save the plan to").Value(&v.path).
		Validate(func(s string) error {
			if strings.TrimSpace(s) == "" {
				return fmt.Errorf("give a file name, e.g. plan.toml")
			}
			return nil
		}))
}

// fieldValidator checks a backend field: required, and matching its pattern.
func fieldValidator(fd BackendField) func(string) error {
	var re *regexp.Regexp
	var reErr error
	if fd.Pattern != "" {
		re, reErr = regexp.Compile(fd.Pattern)
	}
	return func(s string) error {
		s = strings.TrimSpace(s)
		if s == "" {
			if fd.Required {
				return fmt.Errorf("%s is required", strings.ToLower(fd.Label))
			}
			return nil
		}
		if reErr != nil {
			return fmt.Errorf("the pattern for %s does not compile: %w", fd.Key, reErr)
		}
		if err := checkFormat(fd, s); err != nil {
			return err
		}
		if re != nil && !re.MatchString(s) {
			if fd.PatternHelp != "" {
				return fmt.Errorf("%s: %s", strings.ToLower(fd.Label), fd.PatternHelp)
			}
			return fmt.Errorf("%s does not match %s", strings.ToLower(fd.Label), fd.Pattern)
		}
		return nil
	}
}

// ParseEndpoints splits a comma-separated PD list and checks each entry is
// host:port or an http(s) URL with a host.
func ParseEndpoints(s string) ([]string, error) {
	var out []string
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if strings.Contains(e, "://") {
			u, err := url.Parse(e)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, fmt.Errorf("%q is not a PD endpoint: use http://host:2379 or https://host:2379", e)
			}
		} else if _, port, err := net.SplitHostPort(e); err != nil || port == "" {
			return nil, fmt.Errorf("%q is not a PD endpoint: use host:port, e.g. pd-1:2379", e)
		}
		out = append(out, e)
	}
	return out, nil
}

// formDone takes a finished prompt's values.
func (m *Model) formDone(kind formKind, v *formValues, err error) tea.Cmd {
	if err != nil {
		m.err = err
		return nil
	}
	switch kind {
	case formConnect:
		pd, perr := ParseEndpoints(v.pd)
		if perr != nil || (len(pd) == 0 && strings.TrimSpace(v.tiup) == "") {
			if perr == nil {
				perr = fmt.Errorf("give PD endpoints or a TiUP cluster name")
			}
			m.err = perr
			return nil
		}
		m.connect = ConnectInput{Environment: v.env, PD: pd, TiUPName: strings.TrimSpace(v.tiup), SSHUser: v.sshUser,
			Identity: v.identity, KnownHosts: v.knownHosts, SSHConfig: v.sshConfig}
		m.disc = nil
		return m.start(opDiscover, discoverCmd(m.ctx, m.driver, m.connect))
	case formBackend:
		m.fields = map[string]string{}
		for k, p := range v.fields {
			m.fields[k] = strings.TrimSpace(*p)
		}
		m.checked, m.checks = false, nil
		if m.backendIdx < len(m.backends) {
			if miss := missingOneOf(m.backends[m.backendIdx], m.fields); len(miss) > 0 {
				m.err = fmt.Errorf("%s: %s; press enter to fill it in", m.backends[m.backendIdx].Name, strings.Join(miss, "; "))
				return nil
			}
		}
		return m.start(opPreflight, preflightCmd(m.ctx, m.driver, m.Choices()))
	case formSigner:
		m.signer = v.signer
		if m.signerKeys == nil {
			m.signerKeys = map[string]string{}
		}
		for k, p := range v.signerKeys {
			m.signerKeys[k] = strings.TrimSpace(*p)
		}
		if !m.checked { // the signer is checked with the backend's preflight
			return nil
		}
		return m.start(opPreflight, preflightCmd(m.ctx, m.driver, m.Choices()))
	case formSave:
		if m.preview == nil {
			return nil
		}
		return m.start(opSave, saveCmd(m.ctx, m.driver, *m.preview, strings.TrimSpace(v.path)))
	}
	return nil
}

func (m *Model) formView(w, h int) string {
	title := map[formKind]string{formConnect: "How to reach the cluster", formBackend: "Key backend settings", formSave: "Save the plan", formSigner: "Who signs the report"}[m.formKind]
	out := m.styles.Title.Render(title) + "\n"
	if s := m.status(); s != "" {
		out += s + "\n"
	}
	return out + m.form.View()
}
