package clock

import (
	"testing"
	"time"
)

func TestWallAndSimAreInverse(t *testing.T) {
	c := New(10)
	if got := c.Wall(10 * time.Second); got != time.Second {
		t.Fatalf("Wall(10s) at speed 10 = %v, want 1s", got)
	}
	if got := c.Sim(time.Second); got != 10*time.Second {
		t.Fatalf("Sim(1s) at speed 10 = %v, want 10s", got)
	}
	if got := New(0).Speed(); got != 1 {
		t.Fatalf("speed 0 should mean 1, got %v", got)
	}
	if got := New(1e12).Wall(time.Nanosecond); got <= 0 {
		t.Fatalf("a positive sim duration must map to a positive wall duration, got %v", got)
	}
}

func TestNowAdvancesFaster(t *testing.T) {
	c := New(1000)
	a := c.Now()
	time.Sleep(5 * time.Millisecond)
	if d := c.Now().Sub(a); d < 4*time.Second {
		t.Fatalf("after 5ms wall at speed 1000 sim time advanced only %v", d)
	}
}
