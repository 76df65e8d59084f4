package ssh

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// Config is a parsed OpenSSH client configuration file (ssh_config(5)), of which
// tikv-ear understands a subset: Host blocks with *, ? and ! patterns, HostName,
// User, Port, IdentityFile, ProxyJump, UserKnownHostsFile and
// StrictHostKeyChecking. As in OpenSSH, the first value obtained for a keyword
// wins (IdentityFile accumulates), and keywords before the first Host line apply
// to every host. Other keywords are ignored; Match and Include blocks cannot be
// evaluated here and are skipped with a warning in Warnings.
type Config struct {
	// Path names the file in error messages.
	Path string
	// Home replaces ~ and %d in paths; it defaults to the current user's home.
	Home string
	// LocalUser replaces %u in paths; it defaults to the current user's name.
	LocalUser string
	// Warnings lists the parts of the file that were skipped (Match, Include).
	Warnings []string

	blocks []configBlock
}

type configBlock struct {
	patterns []string // nil for the implicit block before the first Host line
	never    bool     // a Match block: never applied
	settings []configSetting
}

type configSetting struct {
	key  string // lower case
	args []string
	line int
}

// HostConfig is what Config.Lookup found for one host alias. Zero values mean
// "not set": the caller's defaults apply.
type HostConfig struct {
	Alias                 string   // the name looked up
	HostName              string   // HostName, with %h expanded
	User                  string   // User
	Port                  int      // Port
	IdentityFiles         []string // IdentityFile lines, in order, ~ and tokens expanded
	ProxyJump             []string // ProxyJump hops, first hop first; empty for none
	UserKnownHostsFiles   []string // UserKnownHostsFile, expanded
	StrictHostKeyChecking string   // "yes" or "accept-new" ("ask" reads as "yes"), "" when unset
}

// DefaultConfigPath returns ~/.ssh/config for the current user.
func DefaultConfigPath() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the home directory for ~/.ssh/config: %w", err)
	}
	return filepath.Join(home, ".ssh", "config"), nil
}

// LoadConfig reads and parses an ssh_config file. A missing file is not an
// error: it yields an empty configuration.
func LoadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return ParseConfig(strings.NewReader(""), path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading ssh config %s: %w", path, err)
	}
	defer f.Close()
	return ParseConfig(f, path)
}

// ParseConfig parses ssh_config text; path names it in errors.
func ParseConfig(r io.Reader, path string) (*Config, error) {
	c := &Config{Path: path}
	if home, err := os.UserHomeDir(); err == nil {
		c.Home = home
	}
	if u, err := user.Current(); err == nil {
		c.LocalUser = u.Username
	}
	c.blocks = []configBlock{{}} // the implicit block before the first Host line
	cur := &c.blocks[0]

	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		key, args, err := splitConfigLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, lineNo, err)
		}
		if key == "" {
			continue
		}
		lkey := strings.ToLower(key)
		if len(args) == 0 {
			return nil, fmt.Errorf("%s:%d: %s needs a value (write %q)", path, lineNo, key, key+" <value>")
		}
		switch lkey {
		case "host":
			c.blocks = append(c.blocks, configBlock{patterns: lowerAll(args)})
			cur = &c.blocks[len(c.blocks)-1]
			continue
		case "match":
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s:%d: Match blocks are not supported by tikv-ear and are skipped; use Host blocks for the TiKV hosts", path, lineNo))
			c.blocks = append(c.blocks, configBlock{never: true})
			cur = &c.blocks[len(c.blocks)-1]
			continue
		case "include":
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s:%d: Include is not supported by tikv-ear and is skipped; copy the TiKV host blocks into %s", path, lineNo, path))
			continue
		case "port":
			if _, err := parsePort(args[0]); err != nil {
				return nil, fmt.Errorf("%s:%d: Port %q: %w", path, lineNo, args[0], err)
			}
		case "stricthostkeychecking":
			switch strings.ToLower(args[0]) {
			case "yes", "ask", "accept-new", "no", "off":
			default:
				return nil, fmt.Errorf("%s:%d: StrictHostKeyChecking %q is not one of yes, accept-new, ask", path, lineNo, args[0])
			}
		case "proxyjump":
			if _, err := parseProxyJump(args); err != nil {
				return nil, fmt.Errorf("%s:%d: ProxyJump: %w", path, lineNo, err)
			}
		}
		cur.settings = append(cur.settings, configSetting{key: lkey, args: args, line: lineNo})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading ssh config %s: %w", path, err)
	}
	return c, nil
}

// Lookup returns the settings that apply to alias, first match wins. It fails
// when the first StrictHostKeyChecking that applies is "no": tikv-ear never
// accepts unverified host keys.
func (c *Config) Lookup(alias string) (HostConfig, error) {
	hc := HostConfig{Alias: alias}
	if c == nil {
		return hc, nil
	}
	host := strings.ToLower(alias)
	seen := map[string]bool{}
	var identity, knownHosts []configSetting
	for _, b := range c.blocks {
		if b.never || (b.patterns != nil && !matchPatternList(b.patterns, host)) {
			continue
		}
		for _, s := range b.settings {
			if s.key == "identityfile" {
				identity = append(identity, s)
				continue
			}
			if seen[s.key] {
				continue
			}
			seen[s.key] = true
			switch s.key {
			case "hostname":
				hc.HostName = strings.ReplaceAll(strings.ReplaceAll(s.args[0], "%h", alias), "%%", "%")
			case "user":
				hc.User = s.args[0]
			case "port":
				hc.Port, _ = parsePort(s.args[0]) // validated while parsing
			case "proxyjump":
				hc.ProxyJump, _ = parseProxyJump(s.args)
			case "userknownhostsfile":
				knownHosts = append(knownHosts, s)
			case "stricthostkeychecking":
				switch v := strings.ToLower(s.args[0]); v {
				case "no", "off":
					return hc, fmt.Errorf("%s:%d: StrictHostKeyChecking %s applies to host %q, but tikv-ear never accepts unverified host keys (that would let a man in the middle receive the master key); use \"accept-new\" to trust hosts on first use, or \"yes\"", c.Path, s.line, s.args[0], alias)
				case "ask":
					hc.StrictHostKeyChecking = "yes" // batch mode: nobody to ask
				default:
					hc.StrictHostKeyChecking = v
				}
			}
		}
	}
	for _, s := range identity {
		if strings.EqualFold(s.args[0], "none") {
			continue
		}
		p, err := c.expandPath(s.args[0], hc)
		if err != nil {
			return hc, fmt.Errorf("%s:%d: IdentityFile %q: %w", c.Path, s.line, s.args[0], err)
		}
		hc.IdentityFiles = append(hc.IdentityFiles, p)
	}
	for _, s := range knownHosts {
		for _, a := range s.args {
			if strings.EqualFold(a, "none") {
				continue
			}
			p, err := c.expandPath(a, hc)
			if err != nil {
				return hc, fmt.Errorf("%s:%d: UserKnownHostsFile %q: %w", c.Path, s.line, a, err)
			}
			hc.UserKnownHostsFiles = append(hc.UserKnownHostsFiles, p)
		}
	}
	return hc, nil
}

// expandPath applies ~ and the ssh_config tokens %%, %d, %h, %n, %p, %r, %u.
func (c *Config) expandPath(p string, hc HostConfig) (string, error) {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if c.Home == "" {
			return "", errors.New("~ cannot be expanded: the home directory is unknown")
		}
		p = c.Home + p[1:]
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] != '%' {
			b.WriteByte(p[i])
			continue
		}
		if i+1 == len(p) {
			return "", errors.New("a lone % at the end; write %% for a literal percent sign")
		}
		i++
		switch p[i] {
		case '%':
			b.WriteByte('%')
		case 'd':
			b.WriteString(c.Home)
		case 'h':
			if hc.HostName != "" {
				b.WriteString(hc.HostName)
			} else {
				b.WriteString(hc.Alias)
			}
		case 'n':
			b.WriteString(hc.Alias)
		case 'p':
			port := hc.Port
			if port == 0 {
				port = 22
			}
			b.WriteString(strconv.Itoa(port))
		case 'r':
			b.WriteString(hc.User)
		case 'u':
			b.WriteString(c.LocalUser)
		default:
			return "", fmt.Errorf("token %%%c is not supported (supported: %%%% %%d %%h %%n %%p %%r %%u)", p[i])
		}
	}
	return b.String(), nil
}

// splitConfigLine splits one ssh_config line into keyword and arguments. It
// accepts "Keyword value" and "Keyword=value", double-quoted arguments, and
// comments that start a line or an unquoted argument.
func splitConfigLine(line string) (string, []string, error) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return "", nil, nil
	}
	end := strings.IndexAny(line, " \t=")
	if end < 0 {
		return line, nil, nil
	}
	key := line[:end]
	rest := strings.TrimLeft(line[end:], " \t")
	if strings.HasPrefix(rest, "=") {
		rest = strings.TrimLeft(rest[1:], " \t")
	}
	var args []string
	for rest != "" {
		if rest[0] == '#' {
			break
		}
		if rest[0] == '"' {
			closing := strings.IndexByte(rest[1:], '"')
			if closing < 0 {
				return "", nil, fmt.Errorf("%s: unterminated quote", key)
			}
			args = append(args, rest[1:1+closing])
			rest = strings.TrimLeft(rest[2+closing:], " \t")
			continue
		}
		n := strings.IndexAny(rest, " \t")
		if n < 0 {
			n = len(rest)
		}
		args = append(args, rest[:n])
		rest = strings.TrimLeft(rest[n:], " \t")
	}
	return key, args, nil
}

func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, errors.New("want a number from 1 to 65535")
	}
	return n, nil
}

// parseProxyJump splits "[user@]host[:port][,...]" (or "none") into hops.
func parseProxyJump(args []string) ([]string, error) {
	if len(args) != 1 {
		return nil, errors.New("hops must be comma-separated without spaces, e.g. \"ProxyJump bastion1,bastion2\"")
	}
	if strings.EqualFold(args[0], "none") {
		return nil, nil
	}
	var hops []string
	for _, h := range strings.Split(args[0], ",") {
		h = strings.TrimPrefix(h, "ssh://")
		if h == "" {
			return nil, fmt.Errorf("empty hop in %q", args[0])
		}
		if _, _, _, err := splitHostSpec(h); err != nil {
			return nil, fmt.Errorf("hop %q: %w", h, err)
		}
		hops = append(hops, h)
	}
	return hops, nil
}

// splitHostSpec splits "[user@]host[:port]" (IPv6 hosts in brackets when a port follows).
func splitHostSpec(spec string) (user, host string, port int, err error) {
	if i := strings.LastIndexByte(spec, '@'); i >= 0 {
		user, spec = spec[:i], spec[i+1:]
	}
	host = spec
	switch {
	case strings.HasPrefix(spec, "["):
		end := strings.IndexByte(spec, ']')
		if end < 0 {
			return "", "", 0, fmt.Errorf("missing ] in %q", spec)
		}
		host = spec[1:end]
		if rest := spec[end+1:]; rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return "", "", 0, fmt.Errorf("unexpected %q after ]", rest)
			}
			if port, err = parsePort(rest[1:]); err != nil {
				return "", "", 0, fmt.Errorf("port %q: %w", rest[1:], err)
			}
		}
	case strings.Count(spec, ":") == 1:
		i := strings.IndexByte(spec, ':')
		host = spec[:i]
		if port, err = parsePort(spec[i+1:]); err != nil {
			return "", "", 0, fmt.Errorf("port %q: %w", spec[i+1:], err)
		}
	}
	if host == "" {
		return "", "", 0, errors.New("empty host name")
	}
	if strings.ContainsAny(host, " \t/") {
		return "", "", 0, fmt.Errorf("host name %q contains a space or a slash", host)
	}
	return user, host, port, nil
}

// matchPatternList reports whether host matches an OpenSSH pattern list: a
// negated pattern (!pat) that matches rejects the whole list.
func matchPatternList(patterns []string, host string) bool {
	matched := false
	for _, p := range patterns {
		if neg, ok := strings.CutPrefix(p, "!"); ok {
			if wildcardMatch(neg, host) {
				return false
			}
			continue
		}
		if wildcardMatch(p, host) {
			matched = true
		}
	}
	return matched
}

// wildcardMatch matches s against a pattern of literal bytes, * (any run) and ? (one byte).
func wildcardMatch(pattern, s string) bool {
	px, sx := 0, 0
	starP, starS := -1, 0
	for sx < len(s) {
		switch {
		case px < len(pattern) && (pattern[px] == '?' || pattern[px] == s[sx]):
			px++
			sx++
		case px < len(pattern) && pattern[px] == '*':
			starP, starS = px, sx
			px++
		case starP >= 0:
			px = starP + 1
			starS++
			sx = starS
		default:
			return false
		}
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}

func lowerAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(s)
	}
	return out
}
