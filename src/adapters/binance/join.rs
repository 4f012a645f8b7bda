//! Runs many futures concurrently inside the calling task (no spawning, so
//! they may borrow the client), stopping at the first error. The number of
//! requests actually in flight is bounded separately, by the client's
//! semaphore.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

/// Polls every future until all succeed (results in input order) or one
/// fails; the others are then dropped, which cancels reads still in flight.
pub async fn try_join_all<T, E, F>(futures: impl IntoIterator<Item = F>) -> Result<Vec<T>, E>
where
    F: Future<Output = Result<T, E>>,
{
    let mut pending: Vec<Option<Pin<Box<F>>>> = futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    let mut done: Vec<Option<T>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut waiting = false;
        for (slot, out) in pending.iter_mut().zip(done.iter_mut()) {
            let Some(fut) = slot else { continue };
            match fut.as_mut().poll(cx) {
                Poll::Ready(Ok(value)) => {
                    *out = Some(value);
                    *slot = None;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => waiting = true,
            }
        }
        if waiting { Poll::Pending } else { Poll::Ready(Ok(done.iter_mut().filter_map(Option::take).collect())) }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn runs_concurrently_and_keeps_order() {
        let started = Instant::now();
        let futs = (0..10u64).map(|i| async move {
            tokio::time::sleep(Duration::from_millis(50 - i * 3)).await;
            Ok::<u64, String>(i)
        });
        let out = try_join_all(futs).await.unwrap();
        assert_eq!(out, (0..10).collect::<Vec<_>>());
        assert!(started.elapsed() < Duration::from_millis(300), "{:?}", started.elapsed());
    }

    type Job = Pin<Box<dyn Future<Output = Result<u32, String>>>>;

    #[tokio::test]
    async fn stops_at_the_first_error() {
        let futs: Vec<Job> = vec![
            Box::pin(async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(1)
            }),
            Box::pin(async { Err("boom".to_string()) }),
        ];
        let started = Instant::now();
        assert_eq!(try_join_all(futs).await, Err("boom".to_string()));
        assert!(started.elapsed() < Duration::from_secs(5));
        let empty: Vec<std::future::Ready<Result<u8, ()>>> = Vec::new();
        assert_eq!(try_join_all(empty).await, Ok(vec![]));
    }
}
