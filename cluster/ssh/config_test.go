package ssh

import (
	"reflect"
	"strings"
	"testing"
)

const testConfig = `# global defaults apply to every host
User=ops
IdentityFile ~/.ssh/global_key

Host tikv-?? !tikv-99
  HostName %h.internal.example
  Port 2222
  IdentityFile "~/.ssh/tikv key"
  ProxyJump bastion,admin@bastion2:2200
  StrictHostKeyChecking accept-new

Host tikv-*
  User tidb              # not used for tikv-01: the global User came first
  Port 22
  UserKnownHostsFile ~/.ssh/known_hosts_tikv %d/.ssh/kh_%n
  StrictHostKeyChecking no

Host bastion
  HostName 10.0.0.1
  ProxyJump none
  StrictHostKeyChecking ask

Match host foo
  User nobody
Include other.conf

Host *
  IdentityFile %d/.ssh/id_%r_%p
  ProxyJump fallback
`

func TestConfigLookup(t *testing.T) {
	cfg, err := ParseConfig(strings.NewReader(testConfig), "/home/u/.ssh/config")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Home, cfg.LocalUser = "/home/u", "u"
	if len(cfg.Warnings) != 2 || !strings.Contains(cfg.Warnings[0], "config:23: Match") || !strings.Contains(cfg.Warnings[1], "config:25: Include") {
		t.Fatalf("warnings = %q", cfg.Warnings)
	}
	tests := []struct {
		alias   string
		want    HostConfig
		wantErr string
	}{
		{
			alias: "TIKV-01", // matching is case-insensitive, like OpenSSH's lower-cased host
			want: HostConfig{
				Alias:                 "TIKV-01",
				HostName:              "TIKV-01.internal.example",
				User:                  "ops",
				Port:                  2222,
				IdentityFiles:         []string{"/home/u/.ssh/global_key", "/home/u/.ssh/tikv key", "/home/u/.ssh/id_ops_2222"},
				ProxyJump:             []string{"bastion", "admin@bastion2:2200"},
				UserKnownHostsFiles:   []string{"/home/u/.ssh/known_hosts_tikv", "/home/u/.ssh/kh_TIKV-01"},
				StrictHostKeyChecking: "accept-new",
			},
		},
		{
			// !tikv-99 excludes the first block; the second block's "no" applies.
			alias:   "tikv-99",
			wantErr: `/home/u/.ssh/config:16: StrictHostKeyChecking no applies to host "tikv-99"`,
		},
		{
			alias: "bastion",
			want: HostConfig{
				Alias:                 "bastion",
				HostName:              "10.0.0.1",
				User:                  "ops",
				IdentityFiles:         []string{"/home/u/.ssh/global_key", "/home/u/.ssh/id_ops_22"},
				StrictHostKeyChecking: "yes",
			},
		},
		{
			alias: "foo", // the Match block is skipped
			want: HostConfig{
				Alias:         "foo",
				User:          "ops",
				IdentityFiles: []string{"/home/u/.ssh/global_key", "/home/u/.ssh/id_ops_22"},
				ProxyJump:     []string{"fallback"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.alias, func(t *testing.T) {
			got, err := cfg.Lookup(tt.alias)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "accept-new") {
					t.Fatalf("err = %v, want %q and the accept-new fix", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ text, want string }{
		{"Host a\n  Port 70000\n", "cfg:2: Port \"70000\": want a number from 1 to 65535"},
		{"Host a\n  HostName\n", "cfg:2: HostName needs a value"},
		{"Host a\n  StrictHostKeyChecking maybe\n", "cfg:2: StrictHostKeyChecking \"maybe\" is not one of"},
		{"Host a\n  ProxyJump a, b\n", "cfg:2: ProxyJump: hops must be comma-separated without spaces"},
		{"Host a\n  ProxyJump a,,b\n", "cfg:2: ProxyJump: empty hop"},
		{"Host a\n  HostName \"x\n", "cfg:2: HostName: unterminated quote"},
	}
	for _, tt := range tests {
		_, err := ParseConfig(strings.NewReader(tt.text), "cfg")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err = %v, want %q", tt.text, err, tt.want)
		}
	}
	cfg, err := ParseConfig(strings.NewReader("IdentityFile ~/%x\n"), "cfg")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Lookup("a"); err == nil || !strings.Contains(err.Error(), "cfg:1: IdentityFile \"~/%x\": token %x is not supported") {
		t.Fatalf("unknown token: %v", err)
	}
}

func TestWildcardMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"tikv-?", "tikv-1", true},
		{"tikv-?", "tikv-10", false},
		{"*.example.com", "a.b.example.com", true},
		{"*.example.com", "example.com", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"10.0.*.?", "10.0.3.7", true},
		{"", "", true},
		{"", "x", false},
	}
	for _, tt := range tests {
		if got := wildcardMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestSplitHostSpec(t *testing.T) {
	tests := []struct {
		spec, user, host string
		port             int
		err              bool
	}{
		{"h", "", "h", 0, false},
		{"u@h:22", "u", "h", 22, false},
		{"[::1]:2222", "", "::1", 2222, false},
		{"::1", "", "::1", 0, false},
		{"h:0", "", "", 0, true},
		{"u@", "", "", 0, true},
		{"[::1", "", "", 0, true},
	}
	for _, tt := range tests {
		u, h, p, err := splitHostSpec(tt.spec)
		if (err != nil) != tt.err || (!tt.err && (u != tt.user || h != tt.host || p != tt.port)) {
			t.Errorf("splitHostSpec(%q) = %q %q %d %v", tt.spec, u, h, p, err)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add(testConfig)
	f.Add("Host *\n  Port=22 # c\n")
	f.Fuzz(func(t *testing.T, text string) {
		cfg, err := ParseConfig(strings.NewReader(text), "fuzz")
		if err != nil {
			return
		}
		for _, h := range []string{"a", "tikv-01", "bastion"} {
			cfg.Lookup(h)
		}
	})
}
