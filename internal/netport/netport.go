// Package netport picks free TCP ports on 127.0.0.1 for servers the simulated
// cluster and the real-parts test helpers start. It opens nothing that outlives
// the call; it never talks to anything.
package netport

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// Free picks n distinct free ports on 127.0.0.1. A server that binds its port
// again after a restart (a TiKV node, a PD member) must get it back, so the
// ports come from below the kernel's ephemeral range (as TiKV's 20160/20180 and
// PD's 2379/2380 do): there no :0 listener and no outgoing connection's source
// port can take one while its server is stopped. The scan starts at a random
// offset so parallel callers rarely meet.
func Free(n int) ([]int, error) {
	lo, hi := 20000, ephemeralLow()
	if hi-lo < 4*n {
		lo = 10000
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	span := hi - lo
	start := int(binary.BigEndian.Uint32(b[:]) % uint32(span))
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for i := 0; i < span && len(ports) < n; i++ {
		port := lo + (start+i)%span
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue // taken
		}
		lns = append(lns, l)
		ports = append(ports, port)
	}
	if len(ports) < n {
		return nil, fmt.Errorf("finding %d free ports between %d and %d: only %d", n, lo, hi, len(ports))
	}
	return ports, nil
}

// ephemeralLow is the first port of the kernel's ephemeral range
// (/proc/sys/net/ipv4/ip_local_port_range), 32768 when unreadable.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil && v > 1024 {
				return v
			}
		}
	}
	return 32768
}
