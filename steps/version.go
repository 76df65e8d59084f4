package steps

import "github.com/tikv-ear/tikv-ear/cluster/tikv"

// ToolVersion is tikv-ear's version: what "tikv-ear version" prints and every
// report records.
const ToolVersion = "0.1.0-dev"

// Version gates used by preflight come from cluster/tikv (gates.go), the one
// place that decides which TiKV release carries which fix.
var (
	gateEncryption = tikv.MustVersion(tikv.GateEncryption)
	gateSM4        = tikv.MustVersion(tikv.GateSM4Docs)
	gateAzure      = tikv.MustVersion(tikv.GateAzure)
	gateGCP        = tikv.MustVersion(tikv.GateGCP)
)
