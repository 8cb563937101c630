//! The container table: every container of a driver by id, and the ids being created.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use super::record::Record;
use super::store::StateFile;
use super::Platform;
use crate::error::{Error, Result};
use crate::status::{ContainerState, ExitStatus, Status};

/// The containers of one driver.
pub struct Table<P: Platform> {
    slots: Mutex<HashMap<String, Slot<P>>>,
}

/// An id's place in the table: reserved while `create` runs, so that a second `create` of
/// the same id fails at once, then the container; or a container that recovery found ended
/// (it stopped, or ended while no driver watched it), kept with its state file until deleted.
enum Slot<P: Platform> {
    Creating(ContainerState),
    Live(Arc<Record<P>>),
    Ended(ContainerState, StateFile),
}

impl<P: Platform> Table<P> {
    pub(crate) fn new() -> Self {
        Table {
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The container `id`; `InvalidState` while it is being created.
    pub fn get(&self, id: &str) -> Result<Arc<Record<P>>> {
        match self.slots.lock().get(id) {
            Some(Slot::Live(record)) => Ok(record.clone()),
            Some(Slot::Creating(_)) => Err(Error::InvalidState {
                id: id.to_string(),
                state: Status::Creating.to_string(),
                operation: "act on it before create returns",
            }),
            Some(Slot::Ended(..)) => Err(Error::InvalidState {
                id: id.to_string(),
                state: Status::Stopped.to_string(),
                operation:
                    "act on it (it ended before this driver took it back; wait for or delete it)",
            }),
            None => Err(Error::no_container(id)),
        }
    }

    /// The exit of `id` if it is a container recovery found ended.
    pub(crate) fn ended_exit(&self, id: &str) -> Option<ExitStatus> {
        match self.slots.lock().get(id) {
            Some(Slot::Ended(state, _)) => state.exit_status,
            _ => None,
        }
    }

    /// Takes `id` out of the table if it is a container recovery found ended, with its state
    /// file for the caller to remove.
    pub(crate) fn take_ended(&self, id: &str) -> Option<StateFile> {
        let mut slots = self.slots.lock();
        if !matches!(slots.get(id), Some(Slot::Ended(..))) {
            return None;
        }
        match slots.remove(id) {
            Some(Slot::Ended(_, file)) => Some(file),
            _ => None,
        }
    }

    /// Takes out every container recovery found ended, with their state files.
    pub(crate) fn take_all_ended(&self) -> Vec<StateFile> {
        let mut slots = self.slots.lock();
        let ids: Vec<String> = slots
            .iter()
            .filter(|(_, slot)| matches!(slot, Slot::Ended(..)))
            .map(|(id, _)| id.clone())
            .collect();
        ids.iter()
            .filter_map(|id| match slots.remove(id) {
                Some(Slot::Ended(_, file)) => Some(file),
                _ => None,
            })
            .collect()
    }

    /// Adds a container that recovery found ended, listed as `state` until it is deleted.
    pub(crate) fn insert_ended(&self, state: ContainerState, file: StateFile) {
        self.slots
            .lock()
            .insert(state.id.clone(), Slot::Ended(state, file));
    }

    /// Every container, not the ids being created.
    pub fn live(&self) -> Vec<Arc<Record<P>>> {
        self.slots
            .lock()
            .values()
            .filter_map(|slot| match slot {
                Slot::Live(record) => Some(record.clone()),
                Slot::Creating(_) | Slot::Ended(..) => None,
            })
            .collect()
    }

    /// The state of `id`, also while it is being created.
    pub fn state(&self, id: &str) -> Result<ContainerState> {
        let record = match self.slots.lock().get(id) {
            Some(Slot::Creating(state) | Slot::Ended(state, _)) => return Ok(state.clone()),
            Some(Slot::Live(record)) => record.clone(),
            None => return Err(Error::no_container(id)),
        };
        Ok(record.state())
    }

    /// The state of every id, sorted by id.
    pub fn states(&self) -> Vec<ContainerState> {
        let (mut states, records): (Vec<_>, Vec<_>) = {
            let slots = self.slots.lock();
            let creating = slots
                .values()
                .filter_map(|slot| match slot {
                    Slot::Creating(state) | Slot::Ended(state, _) => Some(state.clone()),
                    Slot::Live(_) => None,
                })
                .collect();
            let live = slots
                .values()
                .filter_map(|slot| match slot {
                    Slot::Live(record) => Some(record.clone()),
                    Slot::Creating(_) | Slot::Ended(..) => None,
                })
                .collect::<Vec<_>>();
            (creating, live)
        };
        // Read outside the table's lock: a record's state takes its own.
        states.extend(records.iter().map(|record| record.state()));
        states.sort_by(|a, b| a.id.cmp(&b.id));
        states
    }

    /// Takes `state.id` for a container being created; `AlreadyExists` if it is taken. The id
    /// is free again when the reservation is dropped unfulfilled.
    pub(crate) fn reserve(&self, state: ContainerState) -> Result<Reservation<'_, P>> {
        let id = state.id.clone();
        let mut slots = self.slots.lock();
        if slots.contains_key(&id) {
            return Err(Error::AlreadyExists { id });
        }
        slots.insert(id.clone(), Slot::Creating(state));
        Ok(Reservation {
            table: self,
            id,
            fulfilled: false,
        })
    }

    /// Adds a container taken back from an earlier driver.
    pub(crate) fn insert(&self, record: Arc<Record<P>>) {
        self.slots
            .lock()
            .insert(record.id().to_string(), Slot::Live(record));
    }

    /// Removes `record`, and nothing else that has its id by now.
    pub(crate) fn remove(&self, record: &Arc<Record<P>>) {
        let mut slots = self.slots.lock();
        if matches!(slots.get(record.id()), Some(Slot::Live(held)) if Arc::ptr_eq(held, record)) {
            slots.remove(record.id());
        }
    }
}

/// An id reserved by `create`: freed on drop unless the container made it into the table.
pub(crate) struct Reservation<'a, P: Platform> {
    table: &'a Table<P>,
    id: String,
    fulfilled: bool,
}

impl<P: Platform> Reservation<'_, P> {
    pub(crate) fn fulfil(mut self, record: Arc<Record<P>>) {
        self.table
            .slots
            .lock()
            .insert(self.id.clone(), Slot::Live(record));
        self.fulfilled = true;
    }
}

impl<P: Platform> Drop for Reservation<'_, P> {
    fn drop(&mut self) {
        if !self.fulfilled {
            self.table.slots.lock().remove(&self.id);
        }
    }
}
