//! Task dumps: every live task, read from the owned-task registry.
//!
//! A dump walks the registry's shards one at a time, under each shard's lock, and copies
//! what each task's header says: its id, spawn location, spawn time and poll count (all
//! written once, or by the thread polling it, as plain stores) and its state word. It never
//! waits for a worker: a worker holds a shard lock only to list or unlist a task, never while
//! it polls one, so a dump completes while every worker is stuck in a long poll.

use crate::clock;
use crate::task::{Header, Id, SpawnSite};
use std::fmt;
use std::panic::Location;
use std::time::Duration;

/// Every task alive at the time of the dump (spawned, not yet finished or cancelled), oldest
/// first. `Display` prints one line per task, as asyncio prints its tasks:
/// `task 17 idle 2.3s polls=4 spawned at src/main.rs:42:5`.
///
/// ```
/// use spindle_scheduler::{Scheduler, ThreadParker};
///
/// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
/// let spawner = scheduler.spawner();
/// let pending = scheduler.spawn(std::future::pending::<()>());
/// while spawner.worker_metrics(0).poll_count() == 0 { std::thread::yield_now(); }
/// let dump = spawner.dump();
/// assert_eq!(dump.tasks().len(), 1);
/// assert_eq!(dump.tasks()[0].id(), pending.id());
/// println!("{dump}");
/// ```
#[derive(Clone)]
pub struct TaskDump {
    tasks: Vec<TaskInfo>,
}

/// One task of a [`TaskDump`].
///
/// ```
/// # use spindle_scheduler::{Scheduler, ThreadParker, TaskState};
/// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
/// let spawner = scheduler.spawner();
/// let line = line!() + 1;
/// let pending = scheduler.spawn(std::future::pending::<()>());
/// while spawner.worker_metrics(0).poll_count() == 0 { std::thread::yield_now(); }
/// let info = spawner.dump().tasks()[0].clone();
/// assert_eq!(info.id(), pending.id());
/// assert_eq!(info.location().line(), line);
/// assert_eq!(info.state(), TaskState::Idle);
/// assert_eq!(info.polls(), 1);
/// assert!(info.age() < std::time::Duration::from_secs(60));
/// ```
#[derive(Clone)]
pub struct TaskInfo {
    id: Id,
    location: &'static Location<'static>,
    state: TaskState,
    age: Duration,
    polls: u64,
}

/// What a task is doing at the time of a dump.
///
/// ```
/// assert_eq!(spindle_scheduler::TaskState::Idle.to_string(), "idle");
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskState {
    /// Waiting to be woken: on a socket, a timer, a channel, a join handle.
    Idle,
    /// Woken, queued on a worker or the injector, waiting for its turn.
    Scheduled,
    /// Being polled by a worker now (or being cancelled).
    Running,
}

impl TaskDump {
    /// Reads every header `for_each_task` hands over (under its registry shard's lock).
    pub(crate) fn collect(for_each_task: impl FnOnce(&mut dyn FnMut(&Header))) -> TaskDump {
        let now_ms = clock::coarse_millis();
        let mut found = Vec::new();
        for_each_task(&mut |header| {
            let snapshot = header.state.load();
            let state = if snapshot.is_complete() {
                // Completed and about to leave the registry: not alive any more.
                return;
            } else if snapshot.is_running() {
                TaskState::Running
            } else if snapshot.is_scheduled() {
                TaskState::Scheduled
            } else {
                TaskState::Idle
            };
            let age = Duration::from_millis(clock::millis_since(header.spawned_ms, now_ms).into());
            found.push((header.id, header.site, state, age, snapshot.polls()));
        });
        // The sites are looked up after the walk, out of the registry's locks.
        let locations = SpawnSite::locations();
        let mut tasks: Vec<TaskInfo> = found
            .into_iter()
            .map(|(id, site, state, age, polls)| TaskInfo {
                id,
                location: locations.of(site),
                state,
                age,
                polls: polls.into(),
            })
            .collect();
        tasks.sort_by(|a, b| b.age.cmp(&a.age).then(a.id.cmp(&b.id)));
        TaskDump { tasks }
    }

    /// The tasks, oldest first.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// assert!(scheduler.spawner().dump().tasks().is_empty());
    /// ```
    pub fn tasks(&self) -> &[TaskInfo] {
        &self.tasks
    }
}

impl TaskInfo {
    /// The task's id.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let task = scheduler.spawn(std::future::pending::<()>());
    /// assert_eq!(scheduler.spawner().dump().tasks()[0].id(), task.id());
    /// ```
    pub fn id(&self) -> Id {
        self.id
    }

    /// Where the task was spawned: the caller of `spawn`.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let _task = scheduler.spawn(std::future::pending::<()>());
    /// assert_eq!(scheduler.spawner().dump().tasks()[0].location().line(), line!() - 1);
    /// ```
    pub fn location(&self) -> &'static Location<'static> {
        self.location
    }

    /// What the task was doing when the dump read it.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker, TaskState};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let _task = scheduler.spawn(std::future::pending::<()>());
    /// let state = scheduler.spawner().dump().tasks()[0].state();
    /// assert!(matches!(state, TaskState::Idle | TaskState::Scheduled | TaskState::Running));
    /// ```
    pub fn state(&self) -> TaskState {
        self.state
    }

    /// Time since the task was spawned, to the resolution of a coarse clock (a kernel tick:
    /// 1 to 4 ms on Linux). A task spawned by a worker is dated by that worker's last clock
    /// reading (at its maintenance tick, at most about every 61 polls, or when it woke), so
    /// one spawned late in a long poll shows that poll's length as well. A task spawned from
    /// any other thread is dated by the newest reading a worker published (the same ones, and
    /// every 2 ms from a parked worker keeping watch over a busy one), or by the clock while
    /// no worker runs; so if every unparked worker is stuck in a long poll, its age includes
    /// the time they have been stuck.
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let _task = scheduler.spawn(std::future::pending::<()>());
    /// std::thread::sleep(std::time::Duration::from_millis(50));
    /// assert!(scheduler.spawner().dump().tasks()[0].age().as_millis() >= 40);
    /// ```
    pub fn age(&self) -> Duration {
        self.age
    }

    /// How many polls of the task have started, the one in progress included (it stops
    /// counting at `u32::MAX`).
    ///
    /// ```
    /// # use spindle_scheduler::{Scheduler, ThreadParker};
    /// let scheduler = Scheduler::builder().worker_threads(1).build(|_| ThreadParker::new()).unwrap();
    /// let _task = scheduler.spawn(std::future::pending::<()>());
    /// assert!(scheduler.spawner().dump().tasks()[0].polls() <= 1);
    /// ```
    pub fn polls(&self) -> u64 {
        self.polls
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaskState::Idle => "idle",
            TaskState::Scheduled => "scheduled",
            TaskState::Running => "running",
        })
    }
}

impl fmt::Display for TaskInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task {} {} {:.1}s polls={} spawned at {}",
            self.id,
            self.state,
            self.age.as_secs_f64(),
            self.polls,
            self.location
        )
    }
}

impl fmt::Display for TaskDump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for task in &self.tasks {
            writeln!(f, "{task}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for TaskInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskInfo")
            .field("id", &self.id)
            .field("location", &self.location)
            .field("state", &self.state)
            .field("age", &self.age)
            .field("polls", &self.polls)
            .finish()
    }
}

impl fmt::Debug for TaskDump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.tasks).finish()
    }
}
