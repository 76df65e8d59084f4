package realpd

import (
	"fmt"
	"slices"

	"github.com/pingcap/kvproto/pkg/eraftpb"
	"github.com/pingcap/kvproto/pkg/metapb"
	"github.com/pingcap/kvproto/pkg/pdpb"
)

// region is one Raft group as the stores see it: its meta (range, epoch,
// peers with roles), its leader and term. PD only learns of it through the
// leader's RegionHeartbeat.
type region struct {
	meta   *metapb.Region
	leader *metapb.Peer // nil while no majority of voters is alive
	term   uint64
}

// isVoter: Voter and IncomingVoter vote in the (incoming) configuration
// (kvproto metapb.PeerRole).
func isVoter(p *metapb.Peer) bool {
	return p.GetRole() == metapb.PeerRole_Voter || p.GetRole() == metapb.PeerRole_IncomingVoter
}

func (r *region) peerOnStore(store uint64) *metapb.Peer {
	for _, p := range r.meta.Peers {
		if p.StoreId == store {
			return p
		}
	}
	return nil
}

func (r *region) peerByID(id uint64) *metapb.Peer {
	for _, p := range r.meta.Peers {
		if p.Id == id {
			return p
		}
	}
	return nil
}

func (r *region) voters() []*metapb.Peer {
	var v []*metapb.Peer
	for _, p := range r.meta.Peers {
		if isVoter(p) {
			v = append(v, p)
		}
	}
	return v
}

// elect picks a leader among the live voters when the leader is gone; a
// region whose live voters are not a majority stays without one, as Raft
// does. It reports whether the leader changed.
func (r *region) elect(alive func(store uint64) bool) bool {
	if r.leader != nil && alive(r.leader.StoreId) {
		return false
	}
	voters := r.voters()
	var live []*metapb.Peer
	for _, p := range voters {
		if alive(p.StoreId) {
			live = append(live, p)
		}
	}
	if 2*len(live) <= len(voters) {
		changed := r.leader != nil
		r.leader = nil
		return changed
	}
	// Spread the new leaders: the region id picks among the candidates.
	r.leader = live[int(r.meta.Id%uint64(len(live)))]
	r.term++
	return true
}

// apply carries out one command PD sent back on the heartbeat stream of the
// leader's store (kvproto pdpb.RegionHeartbeatResponse). It returns whether the
// region changed, and a refusal (non-empty) for what the sim does not do.
func (r *region) apply(resp *pdpb.RegionHeartbeatResponse, alive func(uint64) bool, refuseTransfer bool) (bool, string) {
	switch {
	case resp.GetTransferLeader() != nil:
		if refuseTransfer {
			return false, "transfer leader refused: the store is made to hold its leaders (eviction-stuck fault)"
		}
		tl := resp.GetTransferLeader()
		targets := tl.GetPeers() // several: TiKV picks one (pdpb.TransferLeader.peers)
		if len(targets) == 0 {
			targets = []*metapb.Peer{tl.GetPeer()}
		}
		for _, t := range targets {
			p := r.peerByID(t.GetId())
			if p == nil || p.GetRole() != metapb.PeerRole_Voter || !alive(p.StoreId) {
				continue
			}
			if r.leader != nil && p.Id == r.leader.Id {
				return false, ""
			}
			r.leader = p
			r.term++
			return true, ""
		}
		return false, fmt.Sprintf("transfer leader to %v refused: no live voter among the targets", targets)
	case resp.GetChangePeer() != nil:
		return r.changePeer(resp.GetChangePeer())
	case resp.GetChangePeerV2() != nil:
		changes := resp.GetChangePeerV2().GetChanges()
		switch len(changes) {
		case 0:
			return r.leaveJoint(alive)
		case 1:
			return r.changePeer(changes[0])
		default:
			return r.enterJoint(changes)
		}
	case resp.GetMerge() != nil:
		return false, "merge not modelled: the simulated regions never merge"
	case resp.GetSwitchWitnesses() != nil:
		return false, "switch witnesses not modelled"
	case resp.GetChangeSplit() != nil:
		return false, "change split not modelled"
	}
	return false, ""
}

// changePeer is one conf change (raft ConfChangeType): AddNode adds a voter
// or promotes a learner, AddLearnerNode adds a learner or demotes a voter,
// RemoveNode removes a peer, never the leader (PD moves the leader first).
func (r *region) changePeer(cp *pdpb.ChangePeer) (bool, string) {
	peer := cp.GetPeer()
	cur := r.peerOnStore(peer.GetStoreId())
	switch cp.GetChangeType() {
	case eraftpb.ConfChangeType_AddNode:
		switch {
		case cur == nil:
			r.meta.Peers = append(r.meta.Peers, &metapb.Peer{Id: peer.Id, StoreId: peer.StoreId, Role: metapb.PeerRole_Voter})
		case cur.Id != peer.Id:
			return false, fmt.Sprintf("add voter %d refused: store %d holds peer %d", peer.Id, peer.StoreId, cur.Id)
		case cur.Role == metapb.PeerRole_Voter:
			return false, ""
		default:
			cur.Role = metapb.PeerRole_Voter
		}
	case eraftpb.ConfChangeType_AddLearnerNode:
		switch {
		case cur == nil:
			r.meta.Peers = append(r.meta.Peers, &metapb.Peer{Id: peer.Id, StoreId: peer.StoreId, Role: metapb.PeerRole_Learner})
		case cur.Id != peer.Id:
			return false, fmt.Sprintf("add learner %d refused: store %d holds peer %d", peer.Id, peer.StoreId, cur.Id)
		case cur.Role == metapb.PeerRole_Learner:
			return false, ""
		case r.leader != nil && cur.Id == r.leader.Id:
			return false, fmt.Sprintf("demote peer %d refused: it is the leader", cur.Id)
		default:
			cur.Role = metapb.PeerRole_Learner
		}
	case eraftpb.ConfChangeType_RemoveNode:
		if cur == nil || cur.Id != peer.Id {
			return false, ""
		}
		if r.leader != nil && cur.Id == r.leader.Id {
			return false, fmt.Sprintf("remove peer %d refused: it is the leader", cur.Id)
		}
		r.meta.Peers = slices.DeleteFunc(r.meta.Peers, func(p *metapb.Peer) bool { return p.Id == cur.Id })
	default:
		return false, fmt.Sprintf("conf change %s not modelled", cp.GetChangeType())
	}
	r.meta.RegionEpoch.ConfVer++
	return true, ""
}

// enterJoint enters a joint configuration: only promotions and demotions, as
// PD sends them (pdpb.ChangePeerV2 with several changes).
func (r *region) enterJoint(changes []*pdpb.ChangePeer) (bool, string) {
	type role struct {
		p    *metapb.Peer
		role metapb.PeerRole
	}
	var set []role
	for _, cp := range changes {
		cur := r.peerByID(cp.GetPeer().GetId())
		if cur == nil {
			return false, fmt.Sprintf("joint change refused: no peer %d", cp.GetPeer().GetId())
		}
		switch {
		case cp.GetChangeType() == eraftpb.ConfChangeType_AddNode && cur.Role == metapb.PeerRole_Learner:
			set = append(set, role{cur, metapb.PeerRole_IncomingVoter})
		case cp.GetChangeType() == eraftpb.ConfChangeType_AddLearnerNode && cur.Role == metapb.PeerRole_Voter:
			set = append(set, role{cur, metapb.PeerRole_DemotingVoter})
		default:
			return false, fmt.Sprintf("joint change %s of peer %d (%s) not modelled: only promotions and demotions", cp.GetChangeType(), cur.Id, cur.Role)
		}
	}
	for _, s := range set {
		s.p.Role = s.role
	}
	r.meta.RegionEpoch.ConfVer++
	return true, ""
}

// leaveJoint leaves a joint configuration; a demoting leader first hands its
// leadership to a live voter, as TiKV does.
func (r *region) leaveJoint(alive func(uint64) bool) (bool, string) {
	joint := false
	for _, p := range r.meta.Peers {
		if p.Role == metapb.PeerRole_IncomingVoter || p.Role == metapb.PeerRole_DemotingVoter {
			joint = true
		}
	}
	if !joint {
		return false, ""
	}
	if r.leader != nil && r.leader.Role == metapb.PeerRole_DemotingVoter {
		var next *metapb.Peer
		for _, p := range r.meta.Peers {
			if (p.Role == metapb.PeerRole_Voter || p.Role == metapb.PeerRole_IncomingVoter) && alive(p.StoreId) {
				next = p
				break
			}
		}
		if next == nil {
			return false, "leave joint refused: the leader is demoting and no other voter is alive"
		}
		r.leader = next
		r.term++
	}
	for _, p := range r.meta.Peers {
		switch p.Role {
		case metapb.PeerRole_IncomingVoter:
			p.Role = metapb.PeerRole_Voter
		case metapb.PeerRole_DemotingVoter:
			p.Role = metapb.PeerRole_Learner
		}
	}
	r.meta.RegionEpoch.ConfVer++
	return true, ""
}
