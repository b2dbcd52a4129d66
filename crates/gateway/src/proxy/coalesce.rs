//! Merging the chunks of an upstream body that are already on their way into one.
//!
//! hyper hands a response body over from its connection task one HTTP chunk at a time, and the
//! connection decodes the next chunk only after the previous one was taken. An upstream that
//! sends a burst of SSE events in one write therefore reaches the gateway as one chunk per
//! event, each of which the client's connection flushed as its own `writev` (11 per request for
//! a short Chat stream). [`Coalesce`] gives the connection task a turn whenever a chunk arrived
//! and gathers whatever it produced; as soon as a turn brings nothing, what was gathered is
//! handed on. Nothing ever waits for data that has not arrived: a stream whose events come
//! apart in time is forwarded event by event, one scheduler turn later at most.

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Past this much gathered data, hand it on without waiting for more.
const MAX_GATHER: usize = 64 * 1024;
/// Scheduler turns given per gathering: on a busy thread one turn can outlast the gap between
/// a live stream's events, which must not pile up into bursts.
const MAX_TURNS: u8 = 8;

pub struct Coalesce<S, E> {
    inner: S,
    /// The first chunk gathered (kept as is: most answers are one chunk, copied never).
    first: Option<Bytes>,
    /// The first chunk and those after it, once there are several.
    more: BytesMut,
    /// A scheduler turn was given and has not been answered by a new chunk yet.
    yielded: bool,
    /// Turns given since the last hand-on.
    turns: u8,
    /// An error that came after gathered data, reported on the next poll.
    error: Option<E>,
    ended: bool,
}

impl<S, E> Coalesce<S, E> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            first: None,
            more: BytesMut::new(),
            yielded: false,
            turns: 0,
            error: None,
            ended: false,
        }
    }

    fn gathered(&self) -> usize {
        self.first.as_ref().map_or(0, Bytes::len) + self.more.len()
    }

    fn push(&mut self, chunk: Bytes) {
        match self.first.take() {
            None if self.more.is_empty() => self.first = Some(chunk),
            None => self.more.extend_from_slice(&chunk),
            Some(first) => {
                self.more.reserve(first.len() + chunk.len());
                self.more.extend_from_slice(&first);
                self.more.extend_from_slice(&chunk);
            }
        }
    }

    fn take(&mut self) -> Option<Bytes> {
        self.yielded = false;
        self.turns = 0;
        match self.first.take() {
            Some(b) => Some(b),
            None if self.more.is_empty() => None,
            None => Some(self.more.split().freeze()),
        }
    }
}

impl<S, E> Stream for Coalesce<S, E>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Unpin,
{
    type Item = Result<Bytes, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(e) = this.error.take() {
            return Poll::Ready(Some(Err(e)));
        }
        loop {
            if this.ended {
                return Poll::Ready(this.take().map(Ok));
            }
            match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    this.yielded = false;
                    if !chunk.is_empty() {
                        this.push(chunk);
                    }
                    if this.gathered() >= MAX_GATHER {
                        return Poll::Ready(this.take().map(Ok));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    return match this.take() {
                        Some(data) => {
                            this.error = Some(e);
                            Poll::Ready(Some(Ok(data)))
                        }
                        None => Poll::Ready(Some(Err(e))),
                    };
                }
                Poll::Ready(None) => this.ended = true,
                Poll::Pending if this.gathered() == 0 => return Poll::Pending,
                Poll::Pending if !this.yielded && this.turns < MAX_TURNS => {
                    // Let the connection task decode what it already holds, then look again.
                    this.yielded = true;
                    this.turns += 1;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                Poll::Pending => return Poll::Ready(this.take().map(Ok)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use std::time::Duration;

    type Item = Result<Bytes, &'static str>;

    fn chunks(parts: &[&'static str]) -> Vec<Item> {
        parts
            .iter()
            .map(|p| Ok(Bytes::from_static(p.as_bytes())))
            .collect()
    }

    #[tokio::test]
    async fn chunks_already_there_come_out_as_one() {
        let s = futures_util::stream::iter(chunks(&["data: a\n\n", "data: b\n\n", "data: c\n\n"]));
        let out: Vec<Item> = Coalesce::new(s).collect().await;
        assert_eq!(
            out,
            vec![Ok(Bytes::from_static(b"data: a\n\ndata: b\n\ndata: c\n\n"))]
        );
    }

    #[tokio::test]
    async fn a_chunk_is_handed_on_without_waiting_for_the_next() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Item>();
        let rx = Box::pin(futures_util::stream::unfold(rx, |mut rx| async {
            rx.recv().await.map(|x| (x, rx))
        }));
        let mut s = Coalesce::new(rx);
        tx.send(Ok(Bytes::from_static(b"first"))).unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), s.next())
            .await
            .expect("the first chunk must not wait for a second");
        assert_eq!(got, Some(Ok(Bytes::from_static(b"first"))));
        tx.send(Ok(Bytes::from_static(b"second"))).unwrap();
        drop(tx);
        assert_eq!(s.next().await, Some(Ok(Bytes::from_static(b"second"))));
        assert_eq!(s.next().await, None);
    }

    /// A stream that answers `Pending` (waking itself) before each chunk, as hyper's body does
    /// while its connection task decodes the next one.
    struct Trickle(Vec<Item>, bool);

    impl Stream for Trickle {
        type Item = Item;
        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
            self.1 = !self.1;
            if self.1 {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Poll::Ready((!self.0.is_empty()).then(|| self.0.remove(0)))
        }
    }

    #[tokio::test]
    async fn chunks_a_turn_away_are_merged_but_only_a_few_turns_deep() {
        let parts: Vec<&'static str> = vec!["e;"; 20];
        let out: Vec<Item> = Coalesce::new(Trickle(chunks(&parts), false))
            .collect()
            .await;
        let sizes: Vec<usize> = out.iter().map(|r| r.as_ref().unwrap().len()).collect();
        // Eight turns per gathering after the first chunk: 9 chunks, then 9, then the last 2.
        assert_eq!(sizes, vec![18, 18, 4]);
    }

    #[tokio::test]
    async fn data_before_an_error_arrives_before_the_error() {
        let mut items = chunks(&["a", "b"]);
        items.push(Err("cut"));
        let out: Vec<Item> = Coalesce::new(futures_util::stream::iter(items))
            .collect()
            .await;
        assert_eq!(out, vec![Ok(Bytes::from_static(b"ab")), Err("cut")]);
    }

    #[tokio::test]
    async fn a_big_burst_is_handed_on_in_bounded_pieces() {
        let big = vec![Ok(Bytes::from(vec![b'x'; 40 * 1024])); 4];
        let out: Vec<Item> = Coalesce::new(futures_util::stream::iter(big))
            .collect()
            .await;
        let sizes: Vec<usize> = out.iter().map(|r| r.as_ref().unwrap().len()).collect();
        assert_eq!(sizes, vec![80 * 1024, 80 * 1024]);
    }

    #[tokio::test]
    async fn an_empty_body_ends_at_once() {
        let out: Vec<Item> = Coalesce::new(futures_util::stream::iter(Vec::<Item>::new()))
            .collect()
            .await;
        assert!(out.is_empty());
    }
}
