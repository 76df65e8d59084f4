// Package ui is the wizard: bubbletea v2, huh v2 and lipgloss v2 screens that
// drive the engine in package steps and render its events. It owns no rollout
// logic, does no IO in Update, draws on stderr and keeps stdout for data.
//
// Everything outside the terminal goes through the Driver interface, which
// package cli implements over the real engine (ui/uitest has a scripted
// fake). Each Driver call is a tea.Cmd that returns its answer as a message;
// commands never touch the model. During a rollout the engine's events go
// through a StepGate (the real pause) into a steps.Buffered, which one command
// drains an event at a time, so a slow terminal never holds the engine back;
// the engine's questions arrive through Decider and are answered inline on
// the dashboard.
//
// Screens: resume (an unfinished run), connect, algorithm, key backend with
// preflight, plan review, rollout dashboard, verification, rotation schedule
// and report. NewRotate runs the master-key rotation flow on the same screens.
package ui
