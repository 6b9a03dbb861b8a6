//! What the page sends the worker next. The worker runs one request at a time, so requests wait
//! here: a model load first, then the text's tokens (quick, and shown at once), its trace, then
//! the panels' analyses, each kind in the order asked. A request whose asker no longer wants it is cancelled while it
//! waits; one already running is left to finish (its answer then goes nowhere). Plain Rust, so
//! the rules are tested natively.

/// Which requests go first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// A model load: everything else is about a model.
    Load,
    /// The text's tokens: a few milliseconds, and the chips appear.
    Tokens,
    /// The text's trace, which every panel reads.
    Trace,
    /// A panel's own analysis.
    Analysis,
}

/// A request's place in the queue; also its envelope id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ticket(pub u32);

struct Waiting<T> {
    ticket: Ticket,
    priority: Priority,
    item: T,
}

/// Waiting requests and the one running.
pub struct Queue<T> {
    waiting: Vec<Waiting<T>>,
    running: Option<Ticket>,
    last_ticket: u32,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue {
            waiting: Vec::new(),
            running: None,
            last_ticket: 0,
        }
    }
}

impl<T> Queue<T> {
    /// Adds a request; its ticket is new (tickets start at 1 and grow).
    pub fn push(&mut self, priority: Priority, item: T) -> Ticket {
        self.last_ticket += 1;
        let ticket = Ticket(self.last_ticket);
        self.waiting.push(Waiting {
            ticket,
            priority,
            item,
        });
        ticket
    }

    /// Removes a request that has not been sent, returning it.
    pub fn cancel(&mut self, ticket: Ticket) -> Option<T> {
        let index = self.waiting.iter().position(|w| w.ticket == ticket)?;
        Some(self.waiting.remove(index).item)
    }

    /// When nothing runs: the first request of the most urgent kind, now running.
    pub fn start_next(&mut self) -> Option<(Ticket, T)> {
        if self.running.is_some() {
            return None;
        }
        let most_urgent = self.waiting.iter().map(|w| w.priority).min()?;
        let index = self
            .waiting
            .iter()
            .position(|w| w.priority == most_urgent)?;
        let Waiting { ticket, item, .. } = self.waiting.remove(index);
        self.running = Some(ticket);
        Some((ticket, item))
    }

    /// The running request is answered (or could not be sent): the next may start.
    pub fn finish(&mut self) -> Option<Ticket> {
        self.running.take()
    }

    /// The request running, if any.
    #[cfg(test)]
    pub fn running(&self) -> Option<Ticket> {
        self.running
    }

    /// Everything waiting, taken out (the worker died: nothing will be sent).
    pub fn drain(&mut self) -> Vec<T> {
        self.running = None;
        self.waiting.drain(..).map(|w| w.item).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started(queue: &mut Queue<&'static str>) -> Option<&'static str> {
        let (_, item) = queue.start_next()?;
        queue.finish();
        Some(item)
    }

    #[test]
    fn one_runs_at_a_time_and_urgent_kinds_go_first() {
        let mut queue = Queue::default();
        queue.push(Priority::Analysis, "predict");
        queue.push(Priority::Trace, "trace");
        queue.push(Priority::Analysis, "lens");
        queue.push(Priority::Load, "load");
        queue.push(Priority::Tokens, "tokenize");
        let (ticket, first) = queue.start_next().expect("one starts");
        assert_eq!(first, "load");
        assert_eq!(queue.running(), Some(ticket));
        assert!(queue.start_next().is_none(), "a second waits");
        assert_eq!(queue.finish(), Some(ticket));
        let order: Vec<_> = std::iter::from_fn(|| started(&mut queue)).collect();
        assert_eq!(order, ["tokenize", "trace", "predict", "lens"]);
    }

    #[test]
    fn a_cancelled_request_is_never_sent_and_a_running_one_finishes() {
        let mut queue = Queue::default();
        let first = queue.push(Priority::Trace, "trace of 'The'");
        let second = queue.push(Priority::Trace, "trace of 'The c'");
        let third = queue.push(Priority::Trace, "trace of 'The ca'");
        assert_eq!(queue.start_next().map(|(t, _)| t), Some(first));
        // Typing on: each newer text drops the one before it while it waits.
        assert_eq!(queue.cancel(second), Some("trace of 'The c'"));
        assert_eq!(
            queue.cancel(first),
            None,
            "the running one cannot be taken back"
        );
        assert_eq!(queue.running(), Some(first));
        queue.finish();
        assert_eq!(queue.start_next().map(|(t, _)| t), Some(third));
        queue.finish();
        assert!(queue.start_next().is_none());
    }

    #[test]
    fn tickets_are_unique_and_drain_empties_everything() {
        let mut queue = Queue::default();
        let a = queue.push(Priority::Load, 1);
        let b = queue.push(Priority::Load, 2);
        assert_ne!(a, b);
        assert!(a.0 >= 1 && b.0 > a.0);
        queue.start_next();
        assert_eq!(queue.drain(), vec![2]);
        assert_eq!(queue.running(), None);
        assert!(queue.start_next().is_none());
    }
}
