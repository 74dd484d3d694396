//! A turn's seat among the turns the process runs at once (the routers'
//! admission semaphore, sized from the database pool). A turn holds its
//! seat while it works the database and the CPU; while it only waits on a
//! remote model it gives the seat up ([`Seat::away`]) and takes one again,
//! in turn with everyone else, before it goes on. A slow model then
//! bounds nothing but its own turns: with a 1.5 s model and a 20-connection
//! pool, a worker keeps hundreds of turns in flight instead of twenty.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The permit a turn holds, if it runs under admission control.
#[derive(Debug, Default)]
pub struct Seat {
    admission: Option<Arc<Semaphore>>,
    permit: Mutex<Option<OwnedSemaphorePermit>>,
}

impl Seat {
    /// A seat taken with `permit` of `admission`.
    pub fn held(admission: Arc<Semaphore>, permit: OwnedSemaphorePermit) -> Self {
        Seat { admission: Some(admission), permit: Mutex::new(Some(permit)) }
    }

    /// A turn outside admission control: nothing to give up.
    pub fn unmetered() -> Self {
        Seat::default()
    }

    fn slot(&self) -> MutexGuard<'_, Option<OwnedSemaphorePermit>> {
        // The slot holds no invariant a panic could break.
        self.permit.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the turn holds a permit right now.
    pub fn is_held(&self) -> bool {
        self.slot().is_some()
    }

    /// Awaits `waiting` without the seat: the permit goes back while it
    /// runs, and a new one is taken (behind any turn already queued for
    /// one) before this returns. The database and the CPU must not be used
    /// inside `waiting`.
    pub async fn away<F: Future>(&self, waiting: F) -> F::Output {
        let given_up = self.slot().take();
        let Some(permit) = given_up else { return waiting.await };
        drop(permit);
        let out = waiting.await;
        if let Some(admission) = &self.admission
            && let Ok(permit) = Arc::clone(admission).acquire_owned().await
        {
            *self.slot() = Some(permit);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_turn_away_frees_its_permit_and_takes_one_back() {
        let admission = Arc::new(Semaphore::new(1));
        let permit = Arc::clone(&admission).acquire_owned().await.unwrap();
        let seat = Seat::held(Arc::clone(&admission), permit);
        assert_eq!(admission.available_permits(), 0);
        let seen = seat
            .away(async {
                // Another turn gets the only permit while this one waits.
                let other = admission.try_acquire().expect("the permit is free while away");
                drop(other);
                admission.available_permits()
            })
            .await;
        assert_eq!(seen, 1);
        assert!(seat.is_held());
        assert_eq!(admission.available_permits(), 0, "the seat is taken again");
        drop(seat);
        assert_eq!(admission.available_permits(), 1, "dropping the seat frees it");
    }

    #[tokio::test]
    async fn coming_back_waits_behind_a_turn_that_took_the_permit() {
        let admission = Arc::new(Semaphore::new(1));
        let permit = Arc::clone(&admission).acquire_owned().await.unwrap();
        let seat = Arc::new(Seat::held(Arc::clone(&admission), permit));
        let away = tokio::spawn({
            let seat = Arc::clone(&seat);
            async move { seat.away(tokio::time::sleep(Duration::from_millis(10))).await }
        });
        // Another turn takes the permit as soon as the seat gives it up.
        let other = Arc::clone(&admission).acquire_owned().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!away.is_finished(), "the seat waits for a permit while the other turn holds it");
        drop(other);
        away.await.unwrap();
        assert!(seat.is_held());
    }

    #[tokio::test]
    async fn an_unmetered_turn_just_waits() {
        let seat = Seat::unmetered();
        assert_eq!(seat.away(async { 7 }).await, 7);
        assert!(!seat.is_held());
    }
}
