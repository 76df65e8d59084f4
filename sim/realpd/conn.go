package realpd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pingcap/kvproto/pkg/pdpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// rpcTimeout bounds one unary call to PD (pd-simulator uses 3 s: tools/pd-simulator/simulator/client.go pdTimeout).
const rpcTimeout = 3 * time.Second

// leaderConn is the gRPC connection to PD's current leader. Every member
// answers GetMembers; only the leader serves the store calls, so after an
// error the next call asks the members again (PD's own clients do the same).
// Each store has its own, as each TiKV process has its own PD client: one
// store's restart or broken stream never closes another store's connection.
type leaderConn struct {
	endpoints []string // http://host:port client URLs

	mu        sync.Mutex
	cc        *grpc.ClientConn
	clusterID uint64
}

func dial(url string) (*grpc.ClientConn, error) {
	// PD serves gRPC and HTTP on the same client URL (tikv/pd server/server.go startServer).
	cc, err := grpc.NewClient(strings.TrimPrefix(strings.TrimPrefix(url, "http://"), "https://"),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("dialling PD at %s: %w", url, err)
	}
	return cc, nil
}

// client returns the connection to the leader and the cluster id, finding
// the leader first if there is no connection.
func (l *leaderConn) client(ctx context.Context) (*grpc.ClientConn, uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cc != nil {
		return l.cc, l.clusterID, nil
	}
	var errs []error
	for _, ep := range l.endpoints {
		leader, id, err := askLeader(ctx, ep)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cc, err := dial(leader)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		l.cc, l.clusterID = cc, id
		return cc, id, nil
	}
	return nil, 0, fmt.Errorf("no PD leader found at %s: %w", strings.Join(l.endpoints, ","), errors.Join(errs...))
}

// reset drops cc after an error on it so the next call finds the leader
// again; a connection made since (by another call) is kept.
func (l *leaderConn) reset(cc *grpc.ClientConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cc != nil && l.cc == cc {
		l.cc.Close()
		l.cc = nil
	}
}

func (l *leaderConn) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cc != nil {
		l.cc.Close()
		l.cc = nil
	}
}

// askLeader asks one member for the leader's client URL and the cluster id
// (pdpb.GetMembersResponse: header.cluster_id, leader.client_urls).
func askLeader(ctx context.Context, endpoint string) (string, uint64, error) {
	cc, err := dial(endpoint)
	if err != nil {
		return "", 0, err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	resp, err := pdpb.NewPDClient(cc).GetMembers(ctx, &pdpb.GetMembersRequest{})
	if err != nil {
		return "", 0, fmt.Errorf("GetMembers at %s: %w", endpoint, err)
	}
	if err := headerErr(resp.GetHeader()); err != nil {
		return "", 0, fmt.Errorf("GetMembers at %s: %w", endpoint, err)
	}
	id := resp.GetHeader().GetClusterId()
	urls := resp.GetLeader().GetClientUrls()
	if id == 0 || len(urls) == 0 {
		return "", 0, fmt.Errorf("GetMembers at %s: no leader yet", endpoint)
	}
	return urls[0], id, nil
}

// headerErr turns a pdpb response header's error into a Go error.
func headerErr(h *pdpb.ResponseHeader) error {
	if e := h.GetError(); e != nil && e.GetType() != pdpb.ErrorType_OK {
		return fmt.Errorf("PD error %s: %s", e.GetType(), e.GetMessage())
	}
	return nil
}
