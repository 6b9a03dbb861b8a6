//! An answer a component asks for and owns, keyed on its inputs: whenever the key changes the
//! component asks again, and the earlier request is dropped — cancelled if it still waits, its
//! answer ignored if it runs. When the component goes, so does its request. This is how a panel
//! gets its analysis; nobody keeps ids by hand.
use futures::future::abortable;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{request, Answer, Failure};
use ae_messages::Request;

/// The answer to the newest key, and the last good one.
pub struct Owned<K: Send + Sync + 'static, T: Send + Sync + 'static> {
    key: Memo<Option<K>>,
    answer: RwSignal<Option<(K, Result<T, Failure>)>>,
}

impl<K: Send + Sync + 'static, T: Send + Sync + 'static> Clone for Owned<K, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K: Send + Sync + 'static, T: Send + Sync + 'static> Copy for Owned<K, T> {}

impl<K, T> Owned<K, T>
where
    K: Clone + PartialEq + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
{
    /// The answer for the current key (tracked); `None` while it is on its way or not asked.
    pub fn current(&self) -> Option<Result<T, Failure>> {
        let key = self.key.get()?;
        self.answer.with(|a| {
            a.as_ref()
                .filter(|(k, _)| *k == key)
                .map(|(_, r)| r.clone())
        })
    }

    /// The current key's value, if it came (tracked).
    pub fn value(&self) -> Option<T> {
        self.current().and_then(Result::ok)
    }

    /// The last value that came, if its key passes `still_shown` (tracked): e.g. the previous
    /// settings' predictions for the same trace, shown while the new ones are on their way.
    pub fn latest_if(&self, still_shown: impl FnOnce(&K) -> bool) -> Option<T> {
        self.answer.with(|a| match a {
            Some((key, Ok(value))) if still_shown(key) => Some(value.clone()),
            _ => None,
        })
    }

    /// Reads the last value that came, for whatever key, without cloning it (tracked): shown
    /// while a newer one is on its way, so a view does not flash empty.
    pub fn with_latest<R>(&self, f: impl FnOnce(Option<&T>) -> R) -> R {
        self.answer
            .with(|a| f(a.as_ref().and_then(|(_, r)| r.as_ref().ok())))
    }
}

/// Asks `ask(key)` whenever `key()` changes to `Some`, and keeps what `read` takes from the
/// answer. The request lives as long as the calling component.
pub fn owned_request<K, T>(
    key: impl Fn() -> Option<K> + Send + Sync + 'static,
    ask: impl Fn(&K) -> Request + Send + Sync + 'static,
    read: impl Fn(Answer) -> Option<T> + Clone + Send + Sync + 'static,
) -> Owned<K, T>
where
    K: Clone + PartialEq + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
{
    let key = Memo::new(move |_| key());
    let answer = RwSignal::new(None);
    Effect::new(move |_| {
        let Some(key) = key.get() else {
            // Nothing is wanted: what came before no longer applies.
            answer.set(None);
            return;
        };
        let (asked, handle) = abortable(request(ask(&key)));
        // Before the next key's request, or when the component goes: drop this one.
        on_cleanup(move || handle.abort());
        let read = read.clone();
        spawn_local(async move {
            let Ok(result) = asked.await else {
                return;
            };
            let value = result.and_then(|answer| read(answer).ok_or_else(Failure::unexpected));
            answer.try_set(Some((key, value)));
        });
    });
    Owned { key, answer }
}
