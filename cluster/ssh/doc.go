// Package ssh is the room that runs commands on TiKV hosts: an OpenSSH-compatible
// client (known_hosts verification, ssh-agent and key files, a subset of
// ~/.ssh/config, ProxyJump, keepalives, one pooled connection per host, sudo),
// the Executor interface the engine fakes in tests, a bounded fan-out helper, and
// the node operations built on top (read, stat, atomic write, key upload,
// service restart, port wait, log follow, CPU and disk checks).
//
// It must not: accept a host key it cannot verify (there is no "insecure"
// switch, only OpenSSH's accept-new), put data that could be secret into a
// command line (content always travels over the session's stdin), log, or know
// anything about TiKV beyond the TiUP conventions cited beside the code.
//
// Every command is run by a POSIX shell on the host: "sh -c <cmd>", or
// "sudo -n -- sh -c <cmd>" when Options.Sudo is set, whatever the login shell.
package ssh
