package host

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
)

// Layout names.
const (
	LayoutTiUP    = "tiup"    // TiUP tree + meta.yaml
	LayoutSystemd = "systemd" // a hand-made deployment with a plain unit file
)

// Instance is one TiKV process to lay out on a host.
type Instance struct {
	Port       int               // the main (gRPC) port; also names the unit tikv-<port>.service
	StatusPort int               // the status port
	PD         []string          // PD host:port endpoints
	Labels     map[string]string // server.labels
	// ServerConfigs is TiUP's server_configs.tikv (dotted keys), merged under the
	// instance's own config as Merge2Toml does. Used by the TiUP layout only.
	ServerConfigs map[string]any
}

// Paths are where an instance's files live (absolute).
type Paths struct {
	DeployDir  string
	ConfigPath string
	DataDir    string
	LogDir     string
	LogFile    string
	ScriptPath string // run_tikv.sh (TiUP layout only)
	UnitFile   string
	UnitName   string // tikv-<port>.service
}

// ServiceName is TiUP's ServiceName() for a TiKV instance (pingcap/tiup
// pkg/cluster/spec/instance.go: "<name>-<port>.service").
func ServiceName(port int) string { return "tikv-" + strconv.Itoa(port) + ".service" }

// tiupHeader is the comment block Merge2Toml writes before the TOML body
// (pingcap/tiup pkg/cluster/spec/server_config.go merge2Toml).
const tiupHeader = tikv.TiUPHeader + `
# You can use 'tiup cluster edit-config' and 'tiup cluster reload' to update the configuration
# All configuration items you want to change can be added to:
# server_configs:
#   tikv:
#     aa.b1.c3: value
#     aa.b2.c4: value
`

// runTiKVScript is embed/templates/scripts/run_tikv.sh.tpl of pingcap/tiup,
// rendered without numactl and with advertise-status-addr.
const runTiKVScript = `#!/bin/bash
set -e

# WARNING: This file was auto-generated. Do not edit!
#          All your edit might be overwritten!
cd "%[1]s" || exit 1

echo -n 'sync ... '
stat=$(time sync || sync)
echo ok
echo $stat

exec bin/tikv-server \
    --addr "0.0.0.0:%[2]d" \
    --advertise-addr "127.0.0.1:%[2]d" \
    --status-addr "0.0.0.0:%[3]d" \
    --advertise-status-addr "127.0.0.1:%[3]d" \
    --pd "%[4]s" \
    --data-dir "%[5]s" \
    --config conf/tikv.toml \
    --log-file "%[6]s/tikv.log" 2>> "%[6]s/tikv_stderr.log"
`

// tiupUnit is embed/templates/systemd/system.service.tpl of pingcap/tiup with
// ExecStart as reference pd-and-tiup.md §3 gives it for the commit read there
// (older stored versions of the template have ExecStart=<deploy>/scripts/run_tikv.sh).
const tiupUnit = `[Unit]
Description=tikv service
After=syslog.target network.target remote-fs.target nss-lookup.target

[Service]
LimitNOFILE=1000000
LimitSTACK=10485760
User=%[1]s
ExecStart=/bin/bash -c '%[2]s/scripts/run_tikv.sh'
Restart=always

RestartSec=15s

[Install]
WantedBy=multi-user.target
`

// handUnit is the unit file of the hand-made deployment (not TiUP's).
const handUnit = `[Unit]
Description=TiKV server
After=network.target

[Service]
User=%[1]s
ExecStart=%[2]s/bin/tikv-server --addr 127.0.0.1:%[3]d --status-addr 127.0.0.1:%[4]d --pd %[5]s --config %[2]s/tikv.toml --data-dir %[2]s/data --log-file %[2]s/logs/tikv.log
LimitNOFILE=1000000
Restart=always
RestartSec=15s

[Install]
WantedBy=multi-user.target
`

// PathsFor returns where LayOut puts an instance's files, without writing them.
func (h *Host) PathsFor(layout string, port int) Paths {
	var p Paths
	if layout == LayoutSystemd {
		deploy := filepath.Join(h.cfg.Root, "opt", "tikv")
		p = Paths{DeployDir: deploy, ConfigPath: filepath.Join(deploy, "tikv.toml"),
			DataDir: filepath.Join(deploy, "data"), LogDir: filepath.Join(deploy, "logs")}
	} else {
		// TiUP: deploy_dir = /home/<user>/deploy/tikv-<port>, data and log under it (pd-and-tiup.md §3).
		deploy := filepath.Join(h.cfg.Root, "home", h.cfg.User, "deploy", "tikv-"+strconv.Itoa(port))
		p = Paths{DeployDir: deploy, ConfigPath: filepath.Join(deploy, "conf", "tikv.toml"),
			DataDir: filepath.Join(deploy, "data"), LogDir: filepath.Join(deploy, "log"),
			ScriptPath: filepath.Join(deploy, "scripts", "run_tikv.sh")}
	}
	p.LogFile = filepath.Join(p.LogDir, "tikv.log")
	p.UnitName = ServiceName(port)
	p.UnitFile = filepath.Join(h.cfg.Root, "etc", "systemd", "system", p.UnitName)
	return p
}

// LayOut writes the files of one instance on the host in the given layout and
// registers nothing; the caller adds the unit with AddUnit.
func (h *Host) LayOut(layout string, in Instance) (Paths, error) {
	switch layout {
	case LayoutTiUP, "":
		return h.layOutTiUP(in)
	case LayoutSystemd:
		return h.layOutHand(in)
	}
	return Paths{}, fmt.Errorf("unknown layout %q: use %q or %q", layout, LayoutTiUP, LayoutSystemd)
}

func (h *Host) layOutTiUP(in Instance) (Paths, error) {
	p := h.PathsFor(LayoutTiUP, in.Port)
	deploy := p.DeployDir
	for _, d := range []string{filepath.Join(deploy, "conf"), filepath.Join(deploy, "scripts"), filepath.Join(deploy, "bin"), p.LogDir, p.DataDir, filepath.Dir(p.UnitFile)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return Paths{}, fmt.Errorf("creating %s: %w", d, err)
		}
	}
	merged := map[string]any{}
	for k, v := range in.ServerConfigs {
		setDotted(merged, k, v)
	}
	setDotted(merged, "server.labels", labelsAny(in.Labels))
	files := []struct {
		path string
		text string
		mode os.FileMode
	}{
		{p.ConfigPath, tiupHeader + RenderTOML(merged), 0o644},
		{p.ScriptPath, fmt.Sprintf(runTiKVScript, deploy, in.Port, in.StatusPort, strings.Join(in.PD, ","), p.DataDir, p.LogDir), 0o755},
		{p.UnitFile, fmt.Sprintf(tiupUnit, h.cfg.User, deploy), 0o644},
	}
	for _, f := range files {
		if err := os.WriteFile(f.path, []byte(f.text), f.mode); err != nil {
			return Paths{}, fmt.Errorf("writing %s: %w", f.path, err)
		}
	}
	return p, nil
}

func (h *Host) layOutHand(in Instance) (Paths, error) {
	p := h.PathsFor(LayoutSystemd, in.Port)
	deploy := p.DeployDir
	for _, d := range []string{filepath.Join(deploy, "bin"), p.DataDir, p.LogDir, filepath.Dir(p.UnitFile)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return Paths{}, fmt.Errorf("creating %s: %w", d, err)
		}
	}
	conf := "# TiKV configuration, maintained by hand.\n\n" + RenderTOML(map[string]any{"server": map[string]any{"labels": labelsAny(in.Labels)}})
	if err := os.WriteFile(p.ConfigPath, []byte(conf), 0o644); err != nil {
		return Paths{}, fmt.Errorf("writing %s: %w", p.ConfigPath, err)
	}
	unit := fmt.Sprintf(handUnit, h.cfg.User, deploy, in.Port, in.StatusPort, strings.Join(in.PD, ","))
	if err := os.WriteFile(p.UnitFile, []byte(unit), 0o644); err != nil {
		return Paths{}, fmt.Errorf("writing %s: %w", p.UnitFile, err)
	}
	return p, nil
}

func labelsAny(l map[string]string) map[string]any {
	m := make(map[string]any, len(l))
	for k, v := range l {
		m[k] = v
	}
	return m
}

// setDotted sets a TiUP dotted key ("readpool.storage.use-unified-pool") in a nested map.
func setDotted(m map[string]any, key string, v any) {
	parts := strings.Split(key, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	last := parts[len(parts)-1]
	if sub, ok := v.(map[string]any); ok {
		if cur, ok := m[last].(map[string]any); ok {
			for k, x := range sub {
				setDotted(cur, k, x)
			}
			return
		}
	}
	m[last] = v
}

// RenderTOML writes a nested map the way TiUP's TOML encoder lays it out
// (BurntSushi/toml with Indent ""; see the rendered tikv.toml of
// shared/upstream/tiup-rendered-tikv-labroom.toml): keys first, then tables in
// key order, a blank line before each top-level table after the first output.
func RenderTOML(m map[string]any) string {
	var b bytes.Buffer
	renderTable(&b, nil, m)
	return b.String()
}

func renderTable(b *bytes.Buffer, path []string, m map[string]any) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if _, ok := m[k].(map[string]any); !ok {
			fmt.Fprintf(b, "%s = %s\n", tomlKey(k), tomlValue(m[k]))
		}
	}
	for _, k := range keys {
		sub, ok := m[k].(map[string]any)
		if !ok {
			continue
		}
		p := append(append([]string(nil), path...), tomlKey(k))
		if len(path) == 0 && b.Len() > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(b, "[%s]\n", strings.Join(p, "."))
		renderTable(b, p, sub)
	}
}

func tomlKey(k string) string {
	for _, r := range k {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return strconv.Quote(k)
		}
	}
	return k
}

func tomlValue(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []string:
		q := make([]string, len(x))
		for i, s := range x {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	return strconv.Quote(fmt.Sprint(v))
}
