// Package steps is the engine: the versioned Plan, preflight checks, the batching
// strategy, the runner that evicts, swaps, restarts, verifies and releases each
// store, the append-only journal that makes resume possible, and the typed event
// stream that the wizard and the headless printers consume. It never imports Charm.
package steps
