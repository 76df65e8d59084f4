package host

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Header names of the shim protocol: the body of a /systemctl answer is the
// command's stdout; these headers carry its exit status and its stderr line.
const (
	headerExit   = "X-Sim-Exit"
	headerStderr = "X-Sim-Stderr"
)

// Exit statuses of systemctl (systemctl(1) "EXIT STATUS": 0 ok, 1 failure,
// 3 unit not active, 4 no such unit; start/stop/restart of an unknown unit
// exits 5, LSB "program is not installed").
const (
	exitOK        = 0
	exitFailure   = 1
	exitNotActive = 3
	exitNoUnit    = 4
	exitNotLoaded = 5
)

// shimForward is the shim of a command the sim's control server answers
// (systemctl: the emulated systemd; tikv-ctl: the sim's stand-in for its remote
// mode). It forwards its arguments, one per line, to <control>/<command> and
// replays the answer: stdout from the body, stderr and the exit status from the
// headers. Arguments: host name, control URL, command, stderr header, exit
// header, and the name it reports errors under.
const shimForward = `#!/bin/sh
# %[3]s shim of tikv-ear simulated host %[1]s: the sim's control server answers.
url='%[2]s/%[3]s'
body=$(mktemp) || exit 1
hdr=$(mktemp) || { rm -f "$body"; exit 1; }
if ! printf '%%s\n' "$@" | curl -sS -o "$body" -D "$hdr" --data-binary @- "$url"; then
  rm -f "$body" "$hdr"
  echo "%[6]s: cannot reach the simulated cluster at $url" >&2
  exit 1
fi
cat "$body"
err=$(tr -d '\r' < "$hdr" | sed -n 's/^%[4]s: //p')
code=$(tr -d '\r' < "$hdr" | sed -n 's/^%[5]s: //p')
rm -f "$body" "$hdr"
[ -n "$err" ] && printf '%%s\n' "$err" >&2
exit "${code:-1}"
`

// shimSS prints the host's listening TCP sockets in ss's table format.
const shimSS = `#!/bin/sh
# ss shim of tikv-ear simulated host %[1]s: lists the sim's listening sockets of this host.
exec curl -sS --fail '%[2]s/ss'
`

// shimSudo drops sudo's options and runs the command as the login user.
const shimSudo = `#!/bin/sh
# sudo shim of tikv-ear simulated host %[1]s: the sim host runs every command as the login user.
while [ $# -gt 0 ]; do
  case $1 in
    -u|-g|-p|-C|-D|-r|-t|-U|-h) shift; [ $# -gt 0 ] && shift ;;
    --) shift; break ;;
    -*) shift ;;
    *) break ;;
  esac
done
if [ $# -eq 0 ]; then
  echo "usage: sudo [-n] [-u user] command [args...]" >&2
  exit 1
fi
exec "$@"
`

// writeShims writes the systemctl, sudo, ss and tikv-ctl shims into dir.
func writeShims(dir, hostName, controlURL string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating shim dir: %w", err)
	}
	shims := map[string]string{
		"systemctl": fmt.Sprintf(shimForward, hostName, controlURL, "systemctl", headerStderr, headerExit, "systemctl"),
		"ss":        fmt.Sprintf(shimSS, hostName, controlURL),
		"sudo":      fmt.Sprintf(shimSudo, hostName),
		"tikv-ctl":  fmt.Sprintf(shimForward, hostName, controlURL, "tikv-ctl", headerStderr, headerExit, "tikv-ctl (sim shim)"),
	}
	for name, text := range shims {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o755); err != nil {
			return fmt.Errorf("writing shim %s: %w", path, err)
		}
	}
	return nil
}

// Handler serves the host's shim endpoints: POST /systemctl, GET /ss and POST /tikv-ctl.
// Mount it under the control URL given in Config (with the prefix stripped).
func (h *Host) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /systemctl", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		args := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
		if len(body) == 0 {
			args = nil
		}
		out, errLine, code := h.Systemctl(args)
		w.Header().Set(headerExit, strconv.Itoa(code))
		if errLine != "" {
			w.Header().Set(headerStderr, strings.ReplaceAll(errLine, "\n", " "))
		}
		io.WriteString(w, out)
	})
	mux.HandleFunc("GET /ss", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, h.SS())
	})
	mux.HandleFunc("POST /tikv-ctl", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var args []string
		for _, a := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
			if a != "" {
				args = append(args, a)
			}
		}
		out, errLine, code := "", "tikv-ctl (sim shim): this simulated host has no tikv-ctl", exitFailure
		if h.cfg.TikvCtl != nil {
			out, errLine, code = h.cfg.TikvCtl(args)
		}
		w.Header().Set(headerExit, strconv.Itoa(code))
		if errLine != "" {
			w.Header().Set(headerStderr, strings.ReplaceAll(errLine, "\n", " "))
		}
		io.WriteString(w, out)
	})
	return mux
}

// Systemctl runs a systemctl command line against the host's emulated
// systemd and returns stdout, one stderr line and the exit status.
func (h *Host) Systemctl(args []string) (stdout, stderr string, code int) {
	var verb string
	var names []string
	for _, a := range args {
		switch {
		case strings.HasPrefix(a, "-"):
			// --no-pager, --quiet, --no-block, --full, --user: no effect here.
		case verb == "":
			verb = a
		default:
			names = append(names, unitName(a))
		}
	}
	switch verb {
	case "":
		return "", "systemctl: the sim supports daemon-reload, start, stop, restart, status, is-active, enable, disable", exitFailure
	case "daemon-reload":
		for _, u := range h.unitList() {
			u.reload()
		}
		return "", "", exitOK
	case "enable", "disable", "reset-failed":
		return "", "", exitOK
	case "start", "stop", "restart":
		if len(names) == 0 {
			return "", "Too few arguments.", exitFailure
		}
		for _, n := range names {
			u := h.unit(n)
			if u == nil {
				return "", fmt.Sprintf("Failed to %s %s: Unit %s not found.", verb, n, n), exitNotLoaded
			}
			switch verb {
			case "start":
				u.start()
			case "stop":
				u.stop()
			case "restart":
				u.stop()
				u.start()
			}
		}
		return "", "", exitOK
	case "is-active":
		var b strings.Builder
		code := exitOK
		for _, n := range names {
			state := StateInactive
			if u := h.unit(n); u != nil {
				state = u.Status().State
			}
			if state != StateActive {
				code = exitNotActive
			}
			b.WriteString(state + "\n")
		}
		return b.String(), "", code
	case "status":
		var b strings.Builder
		code := exitOK
		for _, n := range names {
			u := h.unit(n)
			if u == nil {
				return b.String(), fmt.Sprintf("Unit %s could not be found.", n), exitNoUnit
			}
			st := u.Status()
			if st.State != StateActive {
				code = exitNotActive
			}
			b.WriteString(h.statusText(u, st))
		}
		return b.String(), "", code
	}
	return "", fmt.Sprintf("Unknown command verb %s.", verb), exitFailure
}

// unitName appends ".service" when the name has no unit suffix, as systemctl does.
func unitName(n string) string {
	if strings.Contains(n, ".") {
		return n
	}
	return n + ".service"
}

// statusText renders the head of `systemctl status` for a unit.
func (h *Host) statusText(u *unit, st UnitStatus) string {
	desc := strings.TrimSuffix(st.Name, ".service")
	if i := strings.LastIndex(desc, "-"); i > 0 {
		desc = desc[:i]
	}
	ago := h.clk.Now().Sub(st.Since).Truncate(time.Second)
	since := st.Since.Format("Mon 2006-01-02 15:04:05 MST")
	var b strings.Builder
	fmt.Fprintf(&b, "● %s - %s service\n", st.Name, desc)
	fmt.Fprintf(&b, "     Loaded: loaded (%s; enabled; vendor preset: enabled)\n", u.spec.UnitFile)
	fmt.Fprintf(&b, "     Active: %s (%s) since %s; %s ago\n", st.State, st.Sub, since, ago)
	if st.LastErr != "" {
		fmt.Fprintf(&b, "  Last exit: %s\n", st.LastErr)
	}
	return b.String()
}

// SS renders the host's listening TCP sockets as `ss -ltn` prints them
// (iproute2 ss: columns State, Recv-Q, Send-Q, Local Address:Port, Peer
// Address:Port). TiUP's PortStarted looks for ":<port> " in this text
// (pingcap/tiup pkg/cluster/module/wait_for.go).
func (h *Host) SS() string {
	var addrs []string
	if a := h.Addr(); a != "" {
		addrs = append(addrs, a)
	}
	for _, u := range h.unitList() {
		if u.running() {
			addrs = append(addrs, u.spec.Listen...)
		}
	}
	sort.Slice(addrs, func(i, j int) bool { return portOf(addrs[i]) < portOf(addrs[j]) })
	var b strings.Builder
	fmt.Fprintf(&b, "%-6s %-6s %-6s %20s %20s %s\n", "State", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port", "Process")
	for _, a := range addrs {
		fmt.Fprintf(&b, "%-6s %-6s %-6s %20s %20s \n", "LISTEN", "0", "4096", a, "0.0.0.0:*")
	}
	return b.String()
}

func portOf(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}
