package host

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
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
// mode). It posts its arguments, one form field each, to <control>/<command>
// and evaluates the answer, a short script the server writes (shimReply): the
// command's stdout, its stderr line and its exit status.
//
// It is one bash process and forks nothing: the request goes over bash's
// /dev/tcp, HTTP/1.0 written and read with builtins (issue 17: the first shim
// forked ten processes per call, the second one curl, about 8 ms of CPU per
// call here; 33 stores restarting at once spent a quarter of a second of
// the machine's two cores on curl alone, 2.5 s of sim time at ×10, a cost of
// the sim's stand-in, not of systemd; the TiUP driver's restarts go through
// the same shim). Placeholders: @NAME@ (what errors are reported under),
// @HOST@, @ADDR@ and @PORT@ (the control server), @PATH@ (the endpoint) and
// @URL@ (the whole URL, for messages).
const shimForward = `#!/bin/bash
# @CMD@ shim of tikv-ear simulated host @HOST@: the sim's control server answers.
export LC_ALL=C
body=sim=1
for a in "$@"; do
  enc=
  for ((i = 0; i < ${#a}; i++)); do
    c=${a:i:1}
    case $c in
      [a-zA-Z0-9._~-]) enc+=$c ;;
      *) printf -v c '%%%02X' "'$c"; enc+=$c ;;
    esac
  done
  body+="&arg=$enc"
done
` + shimRequest + `IFS= read -r -d '' reply <&3
exec 3<&-
eval "$reply"
`

// shimRequest sends the request (method @METHOD@, form body $body) on fd 3,
// checks the status line and skips the headers; the body follows on fd 3.
const shimRequest = `if ! exec 3<>/dev/tcp/@ADDR@/@PORT@; then
  echo "@NAME@: cannot reach the simulated cluster at @URL@" >&2
  exit 1
fi
printf '@METHOD@ %s HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s' '@PATH@' "${#body}" "$body" >&3
IFS= read -r status <&3
case $status in
  'HTTP/1.'?' 200 '*) ;;
  *) echo "@NAME@: the simulated cluster at @URL@ answered: ${status%$'\r'}" >&2; exit 1 ;;
esac
while IFS= read -r line <&3 && [ -n "${line%$'\r'}" ]; do :; done
`

// shimReply renders a shim's answer as the script shimForward evaluates:
// stdout and the stderr line printed with the shell's builtin printf, then the
// exit status. Every value is single-quoted, so nothing in it is run.
func shimReply(stdout, stderr string, code int) string {
	var b strings.Builder
	if stdout != "" {
		fmt.Fprintf(&b, "printf '%%s' %s\n", shellQuote(stdout))
	}
	if stderr != "" {
		fmt.Fprintf(&b, "printf '%%s\\n' %s >&2\n", shellQuote(strings.ReplaceAll(stderr, "\n", " ")))
	}
	fmt.Fprintf(&b, "exit %d\n", code)
	return b.String()
}

// shellQuote quotes s for /bin/sh: single quotes, each ' written as '\”.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shimArgs reads the arguments a shim sent (form fields "arg", in order).
func shimArgs(w http.ResponseWriter, r *http.Request) ([]string, error) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	return r.PostForm["arg"], nil
}

// shimSS prints the host's listening TCP sockets in ss's table format, as
// the control server renders them (one bash, no other process; see shimForward).
const shimSS = `#!/bin/bash
# ss shim of tikv-ear simulated host @HOST@: lists the sim's listening sockets of this host.
export LC_ALL=C
body=
` + shimRequest + `IFS= read -r -d '' out <&3
printf '%s' "$out"
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
// controlURL is the host's handler on the control server (http://ip:port/path).
func writeShims(dir, hostName, controlURL string) error {
	u, err := url.Parse(controlURL)
	if err != nil || u.Scheme != "http" || u.Port() == "" {
		return fmt.Errorf("control URL %q: want http://ip:port/path", controlURL)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating shim dir: %w", err)
	}
	forward := func(text, method, name, endpoint string) string {
		path := strings.TrimSuffix(u.Path, "/") + "/" + endpoint
		return strings.NewReplacer("@CMD@", endpoint, "@NAME@", name, "@HOST@", hostName, "@ADDR@", u.Hostname(),
			"@PORT@", u.Port(), "@PATH@", path, "@URL@", strings.TrimSuffix(controlURL, "/")+"/"+endpoint, "@METHOD@", method).Replace(text)
	}
	shims := map[string]string{
		"systemctl": forward(shimForward, "POST", "systemctl", "systemctl"),
		"ss":        forward(shimSS, "GET", "ss", "ss"),
		"sudo":      fmt.Sprintf(shimSudo, hostName),
		"tikv-ctl":  forward(shimForward, "POST", "tikv-ctl (sim shim)", "tikv-ctl"),
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
		args, err := shimArgs(w, r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.count(func(c *Counts) { c.Shims["systemctl"]++ })
		out, errLine, code := h.Systemctl(args)
		io.WriteString(w, shimReply(out, errLine, code))
	})
	mux.HandleFunc("GET /ss", func(w http.ResponseWriter, r *http.Request) {
		h.count(func(c *Counts) { c.Shims["ss"]++ })
		io.WriteString(w, h.SS())
	})
	mux.HandleFunc("POST /tikv-ctl", func(w http.ResponseWriter, r *http.Request) {
		all, err := shimArgs(w, r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.count(func(c *Counts) { c.Shims["tikv-ctl"]++ })
		var args []string
		for _, a := range all {
			if a != "" {
				args = append(args, a)
			}
		}
		out, errLine, code := "", "tikv-ctl (sim shim): this simulated host has no tikv-ctl", exitFailure
		if h.cfg.TikvCtl != nil {
			out, errLine, code = h.cfg.TikvCtl(args)
		}
		io.WriteString(w, shimReply(out, errLine, code))
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
