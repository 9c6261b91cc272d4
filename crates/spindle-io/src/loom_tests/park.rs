//! [`IoParker`]'s state word (`EMPTY` / `IN_REACTOR` / `NOTIFIED`): an unpark reaches its
//! worker whether that worker is in the reactor, behind another worker that is, or not parked
//! yet.
//!
//! The real `IoParker` runs over the real reactor, with two stand-ins: epoll and its eventfd
//! (`crate::loom::epoll`: an untimed turn blocks until the eventfd is written), and
//! spindle-core's `ThreadParker`, built from loom's mutex and condition variable (loom has no
//! clock: its timed park returns as if its timeout had passed). Every park here is untimed, so a lost wake-up leaves the worker
//! blocked for good, and loom reports the deadlock (the main thread waits to join it).

use super::model;
use crate::park::{IoParker, IoUnparker};
use crate::reactor::Reactor;
use loom::thread;
use spindle_core::{Park, ThreadParker, ThreadUnparker, Unpark};
use std::sync::Arc;

/// A worker's I/O layer on `reactor`, and its unparker.
fn worker(reactor: &Arc<Reactor>) -> (IoParker<ThreadParker>, IoUnparker<ThreadUnparker>) {
    let parker = IoParker::new(ThreadParker::new(), reactor.clone());
    let unparker = parker.unparker();
    (parker, unparker)
}

/// A worker parks (alone, so it wins the reactor) while another thread unparks it: the unpark
/// lands before the worker's `EMPTY -> IN_REACTOR` step, between it and the blocking turn, or
/// during the turn.
///
/// Catches: an unparker that decides from anything but one swap of the state word (a load
/// then a store lets the worker enter the reactor in between, and the unpark goes to the
/// thread parker nobody waits on), an unparker that never writes the eventfd, and a worker that
/// blocks in the reactor even though its state is `NOTIFIED`.
#[test]
fn an_unpark_reaches_a_worker_in_the_reactor() {
    model(|| {
        let reactor = Reactor::new().unwrap();
        let (mut parker, unparker) = worker(&reactor);
        let parked = thread::spawn(move || parker.park());
        unparker.unpark();
        parked.join().unwrap();
    });
}

/// A worker parks while a second worker is already parked in the reactor, so it loses
/// `try_drive` and sleeps on its thread parker; its unpark must go there, and the one for the
/// worker in the reactor must go through the eventfd.
///
/// Catches: an unparker that writes the eventfd for a worker that is not in the reactor (that
/// ends the other worker's turn and leaves this one asleep), and a worker that publishes
/// `IN_REACTOR` before it holds the poll.
#[test]
fn an_unpark_reaches_a_worker_behind_another_in_the_reactor() {
    model(|| {
        let reactor = Reactor::new().unwrap();
        let (mut in_reactor, in_reactor_unparker) = worker(&reactor);
        let (mut behind, behind_unparker) = worker(&reactor);
        let first = thread::spawn(move || in_reactor.park());
        let second = {
            let reactor = reactor.clone();
            thread::spawn(move || {
                while !reactor.is_driving() {
                    thread::yield_now();
                }
                behind.park();
            })
        };
        behind_unparker.unpark();
        second.join().unwrap();
        in_reactor_unparker.unpark();
        first.join().unwrap();
    });
}

/// Two workers park at once (either may win the reactor) and one unparker targets one of
/// them: that one returns while the other may still sleep; then the other is unparked too.
///
/// Catches: a wake-up delivered to the wrong worker (the eventfd written for a worker that lost
/// the poll), and a worker whose state says `IN_REACTOR` while another worker holds the poll.
#[test]
fn two_workers_parking_at_once_wake_the_targeted_one() {
    model(|| {
        let reactor = Reactor::new().unwrap();
        let (mut targeted, targeted_unparker) = worker(&reactor);
        let (mut other, other_unparker) = worker(&reactor);
        let targeted_thread = thread::spawn(move || targeted.park());
        let other_thread = thread::spawn(move || other.park());
        targeted_unparker.unpark();
        targeted_thread.join().unwrap();
        other_unparker.unpark();
        other_thread.join().unwrap();
    });
}

/// An unpark that lands before the park (`NOTIFIED` first) while another worker parks too:
/// the park returns at once whether it wins the reactor (it must then turn without blocking)
/// or loses it (its thread parker holds the token).
///
/// Catches: a worker that blocks in the reactor without checking the state word (the unparker
/// saw `EMPTY` and only unparked the thread parker), and a worker that resets the state to
/// `EMPTY` before parking, erasing the notification.
#[test]
fn an_unpark_before_the_park_is_not_lost() {
    model(|| {
        let reactor = Reactor::new().unwrap();
        let (mut notified, notified_unparker) = worker(&reactor);
        let (mut other, other_unparker) = worker(&reactor);
        let other_thread = thread::spawn(move || other.park());
        notified_unparker.unpark();
        notified.park();
        other_unparker.unpark();
        other_thread.join().unwrap();
    });
}
