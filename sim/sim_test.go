package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh/knownhosts"
	"gopkg.in/yaml.v3"

	"github.com/tikv-ear/tikv-ear/cluster/tikv"
	"github.com/tikv-ear/tikv-ear/internal/shquote"
	"github.com/tikv-ear/tikv-ear/sim/host"
)

const sshBinary = "/usr/bin/ssh"

func startSim(t *testing.T, opt Options) *Cluster {
	t.Helper()
	if opt.Stores == 0 {
		opt.Stores = 3
	}
	if opt.Regions == 0 {
		opt.Regions = 12
	}
	if opt.Speed == 0 {
		opt.Speed = 100
	}
	if opt.Dir == "" {
		opt.Dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Start(ctx, opt)
	if err != nil {
		t.Fatalf("starting the sim: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// runSSH runs OpenSSH's client with the sim's ssh_config.
func runSSH(t *testing.T, c *Cluster, extra []string, target string, command ...string) (string, string, error) {
	t.Helper()
	if _, err := os.Stat(sshBinary); err != nil {
		t.Fatalf("OpenSSH client %s is required: %v", sshBinary, err)
	}
	args := append([]string{"-F", c.Env().SSHConfig}, extra...)
	args = append(args, target)
	args = append(args, command...)
	cmd := exec.Command(sshBinary, args...)
	cmd.Stdin = strings.NewReader("")
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// storeStartTimestamp reads store.start_timestamp from PD's HTTP API.
func storeStartTimestamp(t *testing.T, c *Cluster, id uint64) int64 {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("%s/pd/api/v1/store/%d", c.PDURLs()[0], id))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info struct {
		Store struct {
			StartTimestamp int64  `json:"start_timestamp"`
			StateName      string `json:"state_name"`
		} `json:"store"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		t.Fatalf("decoding store %d: %v", id, err)
	}
	return info.Store.StartTimestamp
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestOpenSSHRestartChangesStartTimestamp(t *testing.T) {
	c := startSim(t, Options{})
	n := c.Nodes()[0]
	before := storeStartTimestamp(t, c, n.StoreID)
	if before == 0 {
		t.Fatal("store has no start_timestamp before the restart")
	}
	c.Clock().Sleep(context.Background(), 2*time.Second) // start_timestamp has second resolution
	unit := strings.TrimSuffix(n.Paths.UnitName, ".service")
	if out, errOut, err := runSSH(t, c, nil, n.Name, "sudo", "-n", "systemctl", "daemon-reload", "&&", "sudo", "-n", "systemctl", "restart", unit); err != nil {
		t.Fatalf("ssh restart: %v\nstdout: %s\nstderr: %s", err, out, errOut)
	}
	waitUntil(t, "a new start_timestamp", func() bool { return storeStartTimestamp(t, c, n.StoreID) > before })
	var out string
	waitUntil(t, "ss to list the port", func() bool {
		o, _, err := runSSH(t, c, nil, n.Name, "ss", "-ltn")
		out = o
		return err == nil && strings.Contains(o, fmt.Sprintf(":%d ", n.Port))
	})
	if !strings.Contains(out, "LISTEN") {
		t.Fatalf("ss output lacks LISTEN rows:\n%s", out)
	}
}

func TestOpenSSHRefusesWrongHostKey(t *testing.T) {
	c := startSim(t, Options{Stores: 1, Zones: 1})
	n := c.Nodes()[0]
	forged, err := host.NewOperatorKey()
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(n.Host.Addr())}, forged.Signer.PublicKey())
	if err := os.WriteFile(bad, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, err := runSSH(t, c, []string{"-o", "UserKnownHostsFile=" + bad}, n.Name, "true")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 255 {
		t.Fatalf("ssh with a wrong known_hosts entry: err %v, stderr %s", err, errOut)
	}
	if !strings.Contains(errOut, "Host key verification failed") {
		t.Fatalf("ssh did not report a host key failure:\n%s", errOut)
	}
	if _, errOut, err := runSSH(t, c, nil, n.Name, "true"); err != nil {
		t.Fatalf("ssh with the sim's known_hosts: %v\n%s", err, errOut)
	}
	// A login shell without a command reads commands from stdin.
	cmd := exec.Command(sshBinary, "-F", c.Env().SSHConfig, n.Host.Name())
	cmd.Stdin = strings.NewReader("echo shell-in-$PWD\nexit 3\n")
	out, err := cmd.Output()
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(string(out), "shell-in-"+n.Host.Root()) {
		t.Fatalf("interactive shell: %v, stdout %q", err, out)
	}
}

func TestFaultSSHRefusedOverControl(t *testing.T) {
	c := startSim(t, Options{Stores: 2, Zones: 2})
	ctx := context.Background()
	if err := PostFault(ctx, c.ControlURL(), Fault{Kind: FaultSSHRefuse, Node: 2}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runSSH(t, c, nil, "tikv-2", "true"); err == nil {
		t.Fatal("ssh succeeded while the host refuses connections")
	}
	if _, errOut, err := runSSH(t, c, nil, "tikv-1", "true"); err != nil {
		t.Fatalf("the fault leaked to node 1: %v\n%s", err, errOut)
	}
	if err := PostFault(ctx, c.ControlURL(), Fault{Kind: FaultSSHRefuse, Node: 2, Off: true}); err != nil {
		t.Fatal(err)
	}
	if _, errOut, err := runSSH(t, c, nil, "tikv-2", "true"); err != nil {
		t.Fatalf("ssh after the fault is off: %v\n%s", err, errOut)
	}
	err := PostFault(ctx, c.ControlURL(), Fault{Kind: "meteor", Node: 1})
	if err == nil || !strings.Contains(err.Error(), "unknown fault kind") {
		t.Fatalf("unknown kind: %v", err)
	}
	if err := PostFault(ctx, c.ControlURL(), Fault{Kind: FaultSSHRefuse, Node: 9}); err == nil || !strings.Contains(err.Error(), "no node 9") {
		t.Fatalf("bad node: %v", err)
	}
}

func TestStartFailureRestartLoopStopsAfterSystemctlStop(t *testing.T) {
	c := startSim(t, Options{Stores: 3})
	n := c.Nodes()[1]
	fatal := "simulated fatal for the restart loop"
	if err := c.Inject(Fault{Kind: FaultStartFailure, Node: n.Index, Message: fatal}); err != nil {
		t.Fatal(err)
	}
	if _, errOut, err := runSSH(t, c, nil, n.Name, "sudo systemctl restart "+n.Paths.UnitName); err != nil {
		t.Fatalf("restart: %v\n%s", err, errOut)
	}
	status := func() host.UnitStatus {
		st, err := n.Host.UnitStatus(n.Paths.UnitName)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	// systemd restarts it every RestartSec=15s (sim): wait for several failed attempts.
	waitUntil(t, "three failed starts", func() bool { return status().Failures >= 3 })
	out, _, _ := runSSH(t, c, nil, n.Name, "systemctl is-active "+n.Paths.UnitName)
	if strings.TrimSpace(out) != host.StateActivating {
		t.Fatalf("is-active during the restart loop = %q", out)
	}
	if _, errOut, err := runSSH(t, c, nil, n.Name, "sudo systemctl stop "+n.Paths.UnitName); err != nil {
		t.Fatalf("stop: %v\n%s", err, errOut)
	}
	starts := status().Starts
	c.Clock().Sleep(context.Background(), 3*host.DefaultRestartDelay)
	if st := status(); st.Starts != starts || st.State != host.StateInactive {
		t.Fatalf("after systemctl stop: %+v (starts before %d)", st, starts)
	}
	logText, err := os.ReadFile(n.Paths.LogFile)
	if err != nil || !strings.Contains(string(logText), fatal) {
		t.Fatalf("tikv.log lacks the FATAL message (%v)", err)
	}
	// Clearing the fault and starting again brings the store back.
	if err := c.Inject(Fault{Kind: FaultStartFailure, Node: n.Index, Off: true}); err != nil {
		t.Fatal(err)
	}
	if _, errOut, err := runSSH(t, c, nil, n.Name, "sudo systemctl start "+n.Paths.UnitName); err != nil {
		t.Fatalf("start: %v\n%s", err, errOut)
	}
	waitUntil(t, "the unit to be active", func() bool { return status().State == host.StateActive })
}

func TestEnvFiles(t *testing.T) {
	dir := t.TempDir()
	c := startSim(t, Options{Stores: 3, Dir: dir, KMSEndpoint: "http://127.0.0.1:4599"})
	e, err := ReadEnv(dir)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(e.PDURLs, ",") != strings.Join(c.PDURLs(), ",") || e.Control != c.ControlURL() ||
		e.KMS != "http://127.0.0.1:4599" || e.Layout != host.LayoutTiUP {
		t.Fatalf("sim.env = %+v", e)
	}
	fi, err := os.Stat(e.Identity)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("identity file %s: mode %v, %v", e.Identity, fi.Mode(), err)
	}
	cfg, _ := os.ReadFile(e.SSHConfig)
	kh, _ := os.ReadFile(e.KnownHosts)
	for _, n := range c.Nodes() {
		for _, want := range []string{"Host " + n.Name + " ", fmt.Sprintf("Port %d\n", n.Host.Port()), "StrictHostKeyChecking yes", "UserKnownHostsFile " + e.KnownHosts} {
			if !strings.Contains(string(cfg), want) {
				t.Fatalf("ssh_config lacks %q:\n%s", want, cfg)
			}
		}
		if want := fmt.Sprintf("[127.0.0.1]:%d ssh-ed25519 ", n.Host.Port()); !strings.Contains(string(kh), want) {
			t.Fatalf("known_hosts lacks %q:\n%s", want, kh)
		}
	}
	data, err := os.ReadFile(e.Meta)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "tiup", "storage", "cluster", "clusters", ClusterName, "meta.yaml"); e.Meta != want {
		t.Fatalf("meta path %s, want %s", e.Meta, want)
	}
	var meta host.ClusterMeta
	if err := yaml.Unmarshal(data, &meta); err != nil {
		t.Fatalf("parsing meta.yaml: %v", err)
	}
	if meta.User != User || meta.TiDBVersion != "v8.5.2" || len(meta.Topology.TiKVServers) != 3 || len(meta.Topology.PDServers) != len(c.PDURLs()) {
		t.Fatalf("meta.yaml: %+v", meta)
	}
	for i, s := range meta.Topology.TiKVServers {
		n := c.Nodes()[i]
		if s.Host != "127.0.0.1" || s.Port != n.Port || s.SSHPort != n.Host.Port() || s.DeployDir != n.Paths.DeployDir {
			t.Fatalf("tikv_servers[%d] = %+v, node %+v", i, s, n.Paths)
		}
		conf, err := os.ReadFile(filepath.Join(s.DeployDir, "conf", "tikv.toml"))
		if err != nil || !strings.HasPrefix(string(conf), tikv.TiUPHeader+"\n") {
			t.Fatalf("tikv.toml of %s lacks TiUP's header: %v", s.DeployDir, err)
		}
	}
	for _, f := range []string{"ssh/id_rsa", "ssh/id_rsa.pub"} {
		if _, err := os.Stat(filepath.Join(filepath.Dir(e.Meta), f)); err != nil {
			t.Fatalf("TiUP cluster dir lacks %s: %v", f, err)
		}
	}
}

func TestSystemdLayoutHasNoTiUPArtifacts(t *testing.T) {
	dir := t.TempDir()
	c := startSim(t, Options{Stores: 1, Zones: 1, Dir: dir, Layout: host.LayoutSystemd})
	e, err := ReadEnv(dir)
	if err != nil {
		t.Fatal(err)
	}
	if e.Meta != "" || e.Layout != host.LayoutSystemd {
		t.Fatalf("systemd layout env: %+v", e)
	}
	if _, err := os.Stat(filepath.Join(dir, "tiup")); !os.IsNotExist(err) {
		t.Fatalf("systemd layout wrote a tiup dir: %v", err)
	}
	n := c.Nodes()[0]
	conf, err := os.ReadFile(n.Paths.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(conf), tikv.TiUPHeader) || !strings.Contains(string(conf), `zone = "z1"`) {
		t.Fatalf("hand-made tikv.toml:\n%s", conf)
	}
	if out, errOut, err := runSSH(t, c, nil, n.Name, "systemctl is-active "+n.Paths.UnitName); err != nil || strings.TrimSpace(out) != "active" {
		t.Fatalf("is-active: %q %v %s", out, err, errOut)
	}
}

func TestOptionsValidation(t *testing.T) {
	if _, err := Start(context.Background(), Options{Stores: 3, Versions: []string{"8.5.2", "6.1.2"}, Dir: t.TempDir()}); err == nil ||
		!strings.Contains(err.Error(), "2 versions for 3 stores") {
		t.Fatalf("want a versions error, got %v", err)
	}
	if _, err := Start(context.Background(), Options{Layout: "ansible", Dir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), `unknown layout "ansible"`) {
		t.Fatalf("want a layout error, got %v", err)
	}
	if _, err := ReadEnv(t.TempDir()); err == nil || !strings.Contains(err.Error(), EnvFileName) {
		t.Fatalf("ReadEnv of an empty dir: %v", err)
	}
	if got, err := shellUnquote(shquote.Always("it's")); err != nil || got != "it's" {
		t.Fatalf("shell quoting round trip: %q %v", got, err)
	}
}
