package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// checkKey accepts only the configured user with the authorized key.
func (h *Host) checkKey(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	if meta.User() != h.cfg.User {
		return nil, fmt.Errorf("user %q is not allowed on %s", meta.User(), h.cfg.Name)
	}
	if !bytes.Equal(key.Marshal(), h.cfg.AuthorizedKey.Marshal()) {
		return nil, fmt.Errorf("public key of %q is not authorized on %s", meta.User(), h.cfg.Name)
	}
	return &ssh.Permissions{}, nil
}

func (h *Host) acceptLoop(ctx context.Context, ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		h.mu.Lock()
		refuse, closed := h.refuse, h.closed
		if !refuse && !closed {
			h.conns[c] = struct{}{}
		}
		h.mu.Unlock()
		if refuse || closed {
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0) // close with RST: "Connection reset by peer"
			}
			c.Close()
			continue
		}
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			defer func() {
				h.mu.Lock()
				delete(h.conns, c)
				h.mu.Unlock()
				c.Close()
			}()
			h.serveConn(ctx, c)
		}()
	}
}

func (h *Host) serveConn(ctx context.Context, c net.Conn) {
	c.SetDeadline(time.Now().Add(30 * time.Second)) // handshake deadline
	sc, chans, reqs, err := ssh.NewServerConn(c, h.sshCfg)
	if err != nil {
		return
	}
	c.SetDeadline(time.Time{})
	defer sc.Close()
	h.count(func(c *Counts) { c.Conns++ })
	go ssh.DiscardRequests(reqs)
	connCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only session channels are supported by the sim host")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		go h.session(connCtx, sc, ch, creqs)
	}
}

// exitStatus is the payload of the "exit-status" channel request (RFC 4254 §6.10).
type exitStatus struct{ Status uint32 }

// session serves one session channel: exec runs /bin/sh -c <command>, shell
// runs /bin/sh -i; pty-req, env, subsystem and others are declined.
func (h *Host) session(ctx context.Context, conn *ssh.ServerConn, ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		switch req.Type {
		case "exec", "shell":
			var args []string
			if req.Type == "exec" {
				var p struct{ Command string }
				if err := ssh.Unmarshal(req.Payload, &p); err != nil {
					req.Reply(false, nil)
					continue
				}
				args = []string{"-c", p.Command}
			} else {
				args = []string{"-i"}
			}
			req.Reply(true, nil)
			go ssh.DiscardRequests(reqs)
			h.count(func(c *Counts) { c.Commands++ })
			h.mu.Lock()
			latency, drop := h.latency, h.dropNext > 0
			if drop {
				h.dropNext--
			}
			h.mu.Unlock()
			if latency > 0 {
				t := time.NewTimer(latency)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return
				}
			}
			code := h.run(ctx, ch, args)
			if drop {
				conn.Close() // no exit-status: the connection just goes away
				return
			}
			ch.SendRequest("exit-status", false, ssh.Marshal(exitStatus{Status: uint32(code)}))
			return
		default:
			// pty-req, env, subsystem (sftp), x11-req...: not offered by the sim host.
			if req.WantReply {
				req.Reply(false, nil)
			}
		}
	}
}

// run executes /bin/sh with args in the host directory, wiring the channel
// to stdin, stdout and stderr, and returns the exit status.
func (h *Host) run(ctx context.Context, ch ssh.Channel, args []string) int {
	cmd := exec.CommandContext(ctx, "/bin/sh", args...)
	cmd.Dir = h.cfg.Root
	home := filepath.Join(h.cfg.Root, "home", h.cfg.User)
	if _, err := os.Stat(home); err != nil {
		home = h.cfg.Root
	}
	cmd.Env = []string{
		"PATH=" + h.shimDir + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + home,
		"USER=" + h.cfg.User,
		"LOGNAME=" + h.cfg.User,
		"SHELL=/bin/sh",
		"LANG=C.UTF-8",
	}
	cmd.Stdout = ch
	cmd.Stderr = ch.Stderr()
	cmd.WaitDelay = 5 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	stdin, err := cmd.StdinPipe()
	if err != nil {
		fmt.Fprintf(ch.Stderr(), "sim host %s: %v\n", h.cfg.Name, err)
		return 255
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(ch.Stderr(), "sim host %s: starting /bin/sh: %v\n", h.cfg.Name, err)
		return 255
	}
	go func() {
		io.Copy(stdin, ch)
		stdin.Close()
	}()
	err = cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	default:
		return 255
	}
}
