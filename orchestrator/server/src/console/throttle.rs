//! Refused console sign-ins counted per client address, so one client cannot guess secrets
//! at the speed of its connections. After [`LIMIT`] refusals within [`WINDOW_SECONDS`] the
//! client is refused without its secret being checked until the window ends.
//!
//! The count is per replica and in memory: a restart forgets it, and a client spread over
//! replicas gets `LIMIT` tries on each. Behind a proxy every client shares the proxy's
//! address, so the proxy should rate-limit by client itself; sluice does not trust
//! `X-Forwarded-For`, which any client can write.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Refusals a client may have within one window.
pub const LIMIT: u32 = 10;
/// The window's length.
pub const WINDOW_SECONDS: i64 = 300;
/// Clients remembered at once; past it, windows that ended are dropped first, then the
/// oldest, so a flood of addresses cannot grow memory without bound.
const CAPACITY: usize = 10_000;

/// One client's refusals in its current window.
#[derive(Debug, Clone, Copy)]
struct Refusals {
    since: i64,
    count: u32,
}

/// Refused sign-ins per client address.
#[derive(Debug, Default)]
pub struct SignInThrottle {
    clients: Mutex<HashMap<IpAddr, Refusals>>,
}

impl SignInThrottle {
    /// Seconds `client` must wait before trying again at `now`, or `None` if it may try.
    pub fn wait(&self, client: IpAddr, now: i64) -> Option<i64> {
        let clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let r = clients.get(&client)?;
        let ends = r.since + WINDOW_SECONDS;
        (r.count >= LIMIT && now < ends).then_some(ends - now)
    }

    /// Count a refused sign-in from `client` at `now`.
    pub fn refused(&self, client: IpAddr, now: i64) {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if clients.len() >= CAPACITY && !clients.contains_key(&client) {
            clients.retain(|_, r| now < r.since + WINDOW_SECONDS);
            if clients.len() >= CAPACITY
                && let Some(oldest) = clients.iter().min_by_key(|(_, r)| r.since).map(|(a, _)| *a)
            {
                clients.remove(&oldest);
            }
        }
        let r = clients.entry(client).or_insert(Refusals {
            since: now,
            count: 0,
        });
        if now >= r.since + WINDOW_SECONDS {
            *r = Refusals {
                since: now,
                count: 0,
            };
        }
        r.count += 1;
    }

    /// Forget a client's refusals (it signed in).
    pub fn accepted(&self, client: IpAddr) {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        clients.remove(&client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn a_client_is_held_back_after_its_limit_until_the_window_ends() {
        let t = SignInThrottle::default();
        for i in 0..LIMIT {
            assert_eq!(t.wait(ip(1), 100 + i as i64), None);
            t.refused(ip(1), 100 + i as i64);
        }
        assert_eq!(t.wait(ip(1), 110), Some(WINDOW_SECONDS - 10));
        assert_eq!(t.wait(ip(2), 110), None, "another client is not held back");
        assert_eq!(t.wait(ip(1), 100 + WINDOW_SECONDS), None);
        t.refused(ip(1), 100 + WINDOW_SECONDS);
        assert_eq!(t.wait(ip(1), 100 + WINDOW_SECONDS), None, "a new window");
    }

    #[test]
    fn a_sign_in_forgets_the_refusals() {
        let t = SignInThrottle::default();
        for _ in 0..LIMIT - 1 {
            t.refused(ip(1), 5);
        }
        t.accepted(ip(1));
        t.refused(ip(1), 6);
        assert_eq!(t.wait(ip(1), 6), None);
    }

    #[test]
    fn memory_stays_bounded_under_many_addresses() {
        let t = SignInThrottle::default();
        for i in 0..(CAPACITY as u32 + 500) {
            t.refused(IpAddr::from(i.to_be_bytes()), 1);
        }
        assert!(t.clients.lock().expect("lock").len() <= CAPACITY);
        // The newest client is still counted.
        for _ in 1..LIMIT {
            t.refused(ip(9), 2);
        }
        t.refused(ip(9), 2);
        assert!(t.wait(ip(9), 3).is_some());
    }
}
