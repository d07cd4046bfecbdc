package handler

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/ragchat/ragchat/shared/config"
	"github.com/ragchat/ragchat/shared/store"
)

// Lockout is the login lockout policy. Every attempt takes a slot of its
// user's window and of its source's window before the password is checked,
// and a success gives both back; so the slots held are the failures (and
// the attempts in flight), and no number of parallel guesses gets more
// than PerUser.Max passwords checked per window. A wrong role counts like
// a wrong password; customer and agent logins share the windows.
type Lockout struct {
	PerUser   store.Window // per (company, user), whether or not the user exists
	PerSource store.Window // per source IP address (IPv6: per /64), across users
}

// DefaultLockout is DESIGN.md's policy: 5 failures per user and 30 per
// source IP in 15 minutes.
var DefaultLockout = Lockout{
	PerUser:   store.Window{Max: 5, Window: 15 * time.Minute},
	PerSource: store.Window{Max: 30, Window: 15 * time.Minute},
}

// LockoutFrom is the policy the function's environment configures.
func LockoutFrom(l config.Limits) Lockout {
	return Lockout{
		PerUser:   store.Window{Max: l.LoginMaxFailures, Window: l.LoginWindow},
		PerSource: store.Window{Max: l.LoginSourceMaxFailures, Window: l.LoginWindow},
	}
}

// slots are the login slots an attempt holds.
type slots struct {
	user, source string // keys; source "" when the request names no source IP
}

// sourceKey is the counter of a source IP: the address, or the /64 of an
// IPv6 address (one host commonly holds a whole /64). "" for no address.
func sourceKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return store.LoginSourceKey(p.String())
	}
	return store.LoginSourceKey(a.String())
}

// take takes the attempt's slots, both at once. It reports whether both
// were free and, when not, when the full windows have all closed; a slot
// taken while the other was refused is given back.
func (h *Handler) take(ctx context.Context, log *slog.Logger, sl slots, now time.Time) (bool, time.Time, error) {
	type result struct {
		slot store.Slot
		err  error
	}
	src := make(chan result, 1)
	if sl.source != "" {
		go func() {
			s, err := h.store.TakeLoginSlot(ctx, sl.source, h.lockout.PerSource, now)
			src <- result{s, err}
		}()
	} else {
		src <- result{slot: store.Slot{Taken: true}}
	}
	user, uerr := h.store.TakeLoginSlot(ctx, sl.user, h.lockout.PerUser, now)
	source := <-src
	if uerr != nil || source.err != nil {
		h.give(ctx, log, sl, user.Taken, source.slot.Taken && sl.source != "", false)
		if uerr == nil {
			uerr = source.err
		}
		return false, time.Time{}, uerr
	}
	if user.Taken && source.slot.Taken {
		return true, time.Time{}, nil
	}
	h.give(ctx, log, sl, user.Taken, source.slot.Taken && sl.source != "", false)
	var reset time.Time
	for _, s := range []store.Slot{user, source.slot} {
		if !s.Taken && s.ResetAt.After(reset) {
			reset = s.ResetAt
		}
	}
	return false, reset, nil
}

// give gives back the slots taken for an attempt that was no failure: a
// refused or failed attempt, or a success (clear: the user's earlier
// failures are forgotten too). Errors are logged: a slot not given back
// only costs its owner one attempt of the window.
func (h *Handler) give(ctx context.Context, log *slog.Logger, sl slots, user, source, clear bool) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if source {
			if err := h.store.FreeLoginSlot(ctx, sl.source); err != nil {
				log.Error("give back the source's login slot", "err", err)
			}
		}
	}()
	switch {
	case user && clear:
		if err := h.store.ClearLoginSlots(ctx, sl.user); err != nil {
			log.Error("clear the user's login failures", "err", err)
		}
	case user:
		if err := h.store.FreeLoginSlot(ctx, sl.user); err != nil {
			log.Error("give back the user's login slot", "err", err)
		}
	}
	<-done
}
