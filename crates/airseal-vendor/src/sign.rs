//! The one parallel signing engine: signed product keys ([`crate::signedkey`]) and licenses
//! for a whole import ([`crate::import::licenses`]) are both "sign each of many items, on
//! every core". Ed25519 signing is the whole cost of either, so both share this loop: one
//! thread per core (the calling thread included), work handed out in small chunks from a
//! shared counter so the threads finish together, results in the items' order, and the
//! first error of the caller's sink stopping every thread.
//!
//! Nothing here knows what is signed: the caller passes `make`, a function from one item to
//! its result.

use std::num::NonZero;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;

/// Items a worker takes at a time: enough to make the shared counter cheap (one atomic
/// add per 64 signatures of about 20 µs each), few enough that the threads finish
/// together.
const CHUNK: usize = 64;

/// The number of threads to use for `items` items: `requested`, or one per core when it is
/// 0; never more than there are chunks of work, never 0.
pub fn threads_for(requested: usize, items: usize) -> usize {
    let wanted = if requested == 0 {
        thread::available_parallelism().map_or(1, NonZero::get)
    } else {
        requested
    };
    wanted.clamp(1, items.div_ceil(CHUNK).max(1))
}

/// The loop both engines share: hands out `0..len` in [`CHUNK`]-sized ranges from a shared
/// counter to `threads` threads (the calling thread included) until the work is done or
/// `body` fails; the first failure stops every thread and is returned.
///
/// A thread that cannot be started is no loss: the others, the calling thread included,
/// take its share from the shared counter.
fn run<E: Send>(
    len: usize,
    threads: usize,
    body: &(dyn Fn(std::ops::Range<usize>) -> Result<(), E> + Sync),
) -> Result<(), E> {
    let threads = threads_for(threads, len);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let first_error: Mutex<Option<E>> = Mutex::new(None);
    let work = || {
        while !stop.load(Ordering::Relaxed) {
            let start = next.fetch_add(CHUNK, Ordering::Relaxed);
            if start >= len {
                return;
            }
            if let Err(e) = body(start..len.min(start.saturating_add(CHUNK))) {
                stop.store(true, Ordering::Relaxed);
                if let Ok(mut slot) = first_error.lock() {
                    slot.get_or_insert(e);
                }
                return;
            }
        }
    };
    thread::scope(|s| {
        let work = &work;
        for _ in 1..threads {
            let _ = thread::Builder::new().spawn_scoped(s, work);
        }
        work();
    });
    match first_error.into_inner() {
        Ok(Some(e)) => Err(e),
        _ => Ok(()),
    }
}

/// Calls `make(i, &items[i])` for every item on `threads` threads (0 = one per core) and
/// hands each result to `sink(i, result)` on the thread that made it, in no particular
/// order, so whatever the sink does (writing a file) is spread over the cores too. The
/// first error `sink` returns stops every thread (items not yet started are never made)
/// and is returned.
///
/// # Errors
/// The first error `sink` returned.
pub fn par_for_each<T: Sync, R, E: Send>(
    items: &[T],
    threads: usize,
    make: &(dyn Fn(usize, &T) -> R + Sync),
    sink: &(dyn Fn(usize, R) -> Result<(), E> + Sync),
) -> Result<(), E> {
    run(items.len(), threads, &|range| {
        let start = range.start;
        for (offset, item) in items.get(range).unwrap_or_default().iter().enumerate() {
            let i = start + offset;
            sink(i, make(i, item))?;
        }
        Ok(())
    })
}

/// `make` applied to every item on `threads` threads (0 = one per core), the results in the
/// items' order: exactly `items.iter().map(make)`, only faster. `progress(n)` is called
/// with the number of items just finished, a chunk at a time, from the worker threads.
pub fn par_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    make: &(dyn Fn(&T) -> R + Sync),
    progress: &(dyn Fn(usize) + Sync),
) -> Vec<R> {
    // Each chunk's results stay together, tagged with where the chunk starts; putting the
    // chunks in order afterwards restores the items' order.
    let done: Mutex<Vec<(usize, Vec<R>)>> = Mutex::new(Vec::new());
    let finished = run::<()>(items.len(), threads, &|range| {
        let start = range.start;
        let results: Vec<R> = items
            .get(range)
            .unwrap_or_default()
            .iter()
            .map(make)
            .collect();
        progress(results.len());
        // A poisoned lock means another worker panicked; the scope re-raises that panic.
        done.lock().map_err(|_| ())?.push((start, results));
        Ok(())
    });
    let mut done = match (finished, done.into_inner()) {
        (Ok(()), Ok(done)) => done,
        // Unreachable without a panic in `make` or `progress`, which `thread::scope`
        // has already propagated.
        _ => Vec::new(),
    };
    done.sort_unstable_by_key(|(start, _)| *start);
    let mut out = Vec::with_capacity(items.len());
    for (_, results) in done {
        out.extend(results);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn par_map_keeps_the_order_for_any_size_and_thread_count() {
        for n in [0usize, 1, 2, 63, 64, 65, 1000, 4097] {
            let items: Vec<u64> = (0..n as u64).collect();
            for threads in [0, 1, 2, 3, 16] {
                let total = AtomicUsize::new(0);
                let out = par_map(&items, threads, &|x| x * 3 + 1, &|k| {
                    total.fetch_add(k, Ordering::Relaxed);
                });
                let expected: Vec<u64> = items.iter().map(|x| x * 3 + 1).collect();
                assert_eq!(out, expected, "n {n}, threads {threads}");
                assert_eq!(total.into_inner(), n, "progress counts every item once");
            }
        }
    }

    #[test]
    fn par_for_each_makes_each_item_once() {
        let items: Vec<usize> = (0..5000).collect();
        let seen = Mutex::new(HashSet::new());
        par_for_each(&items, 4, &|i, x| (i, *x * 2), &|i,
                                                       (j, r)|
         -> Result<(), ()> {
            assert_eq!((i, r), (j, i * 2));
            assert!(seen.lock().unwrap().insert(i), "item {i} made twice");
            Ok(())
        })
        .unwrap();
        assert_eq!(seen.into_inner().unwrap().len(), 5000);
    }

    #[test]
    fn the_first_sink_error_stops_the_work() {
        let items: Vec<usize> = (0..100_000).collect();
        let made = AtomicUsize::new(0);
        let r = par_for_each(
            &items,
            4,
            &|_, x| {
                made.fetch_add(1, Ordering::Relaxed);
                *x
            },
            &|_, x| if x == 100 { Err(x) } else { Ok(()) },
        );
        assert_eq!(r, Err(100));
        // Stopped long before the end (each thread finishes at most its current chunk).
        assert!(made.into_inner() < 10_000);
    }

    #[test]
    fn thread_counts() {
        assert_eq!(threads_for(4, 0), 1);
        assert_eq!(threads_for(4, 64), 1);
        assert_eq!(threads_for(4, 65), 2);
        assert_eq!(threads_for(4, 1_000_000), 4);
        assert!(threads_for(0, 1_000_000) >= 1);
    }
}
