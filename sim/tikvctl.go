package sim

import (
	"fmt"
	"slices"
	"strings"
)

// tikvCtlPrefix starts every message of the tikv-ctl shim: it is the sim
// speaking, never TiKV's own output.
const tikvCtlPrefix = "tikv-ctl (sim shim): "

// tikvCtlUsage lists what the shim understands. The subcommands and flags are
// tikv-ctl's (tikv/tikv cmd/tikv-ctl/src/cmd.rs Compact, CompactCluster); the
// sim simulates only a forced compaction of the kv RocksDB.
const tikvCtlUsage = tikvCtlPrefix + "usage: tikv-ctl --host <ip:port> compact -d kv -c <default|lock|write> --bottommost force" +
	" | tikv-ctl --pd <ip:port> compact-cluster -d kv -c <default,lock,write> --bottommost force"

// tikvCtlCFs are the kv column families tikv-ctl's -c accepts (cmd.rs possible_values).
var tikvCtlCFs = []string{"default", "lock", "write"}

// TikvCtl runs a tikv-ctl command line in remote mode against the cluster, as
// the tikv-ctl shim of every host asks: `--host <addr> compact` rewrites every
// SST of the store at addr now (node.CompactKV), `--pd <addr> compact-cluster`
// those of every store. Success prints nothing; anything else exits 1 with one
// line on stderr.
func (c *Cluster) TikvCtl(args []string) (stdout, stderr string, code int) {
	var hostAddr, pdAddr, sub string
	opts := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, value, inline := strings.Cut(a, "=")
		if !strings.HasPrefix(name, "-") {
			if sub != "" {
				return "", fmt.Sprintf("%sunexpected argument %q; %s", tikvCtlPrefix, a, tikvCtlUsage), 1
			}
			sub = a
			continue
		}
		if !inline {
			if i+1 >= len(args) {
				return "", fmt.Sprintf("%s%s needs a value; %s", tikvCtlPrefix, name, tikvCtlUsage), 1
			}
			i++
			value = args[i]
		}
		switch {
		case sub == "" && name == "--host":
			hostAddr = value
		case sub == "" && name == "--pd":
			pdAddr = value
		case sub != "" && (name == "-d" || name == "--db"):
			opts["db"] = value
		case sub != "" && name == "-c":
			opts["cf"] = value
		case sub != "" && (name == "-b" || name == "--bottommost"):
			opts["bottommost"] = value
		case sub != "" && (name == "-n" || name == "--threads"):
			opts["threads"] = value // no effect in the sim
		default:
			return "", fmt.Sprintf("%sunsupported argument %q; %s", tikvCtlPrefix, a, tikvCtlUsage), 1
		}
	}
	if msg := checkCompactOptions(sub, opts); msg != "" {
		return "", tikvCtlPrefix + msg + "; " + tikvCtlUsage, 1
	}
	var targets []*Node
	switch {
	case sub == "compact" && hostAddr != "" && pdAddr == "":
		i := slices.IndexFunc(c.nodes, func(n *Node) bool { return n.Addr() == hostAddr })
		if i < 0 {
			return "", fmt.Sprintf("%sno simulated store listens on %s", tikvCtlPrefix, hostAddr), 1
		}
		targets = c.nodes[i : i+1]
	case sub == "compact-cluster" && pdAddr != "" && hostAddr == "":
		if !slices.ContainsFunc(c.pdURLs, func(u string) bool { return strings.TrimPrefix(u, "http://") == strings.TrimPrefix(pdAddr, "http://") }) {
			return "", fmt.Sprintf("%sno simulated PD listens on %s", tikvCtlPrefix, pdAddr), 1
		}
		targets = c.nodes
	default:
		return "", tikvCtlUsage, 1
	}
	for _, n := range targets {
		if _, err := n.Proc.CompactKV(); err != nil {
			return "", tikvCtlPrefix + err.Error(), 1
		}
	}
	return "", "", 0
}

// checkCompactOptions returns what is wrong with a compact or compact-cluster
// command line, or "".
func checkCompactOptions(sub string, opts map[string]string) string {
	if sub != "compact" && sub != "compact-cluster" {
		return fmt.Sprintf("unsupported subcommand %q", sub)
	}
	for k, def := range map[string]string{"db": "kv", "cf": "default", "bottommost": "default"} { // cmd.rs default_value
		if opts[k] == "" {
			opts[k] = def
		}
	}
	if db := opts["db"]; db != "kv" {
		return fmt.Sprintf("-d %q: the sim compacts only the kv RocksDB (-d kv)", db)
	}
	cfs := []string{opts["cf"]}
	if sub == "compact-cluster" {
		cfs = strings.Split(opts["cf"], ",")
	}
	for _, cf := range cfs {
		if !slices.Contains(tikvCtlCFs, cf) {
			return fmt.Sprintf("-c %q: want one of %s", opts["cf"], strings.Join(tikvCtlCFs, ", "))
		}
	}
	if b := opts["bottommost"]; b != "force" {
		return fmt.Sprintf("--bottommost %q: the sim simulates only --bottommost force", b)
	}
	return ""
}
