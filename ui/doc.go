// Package ui is the wizard: bubbletea v2, huh v2 and lipgloss v2 screens that
// drive the engine in package steps and render its events. It owns no rollout
// logic, does no IO in Update, draws on stderr and keeps stdout for data.
package ui
