//! What a service adds around its stage (its own metrics, a setting reloaded while it runs)
//! without forwarding the stage interface by hand: [`Hooked`] forwards every method of
//! [`Stage`] once, here, and calls the service's [`StageHooks`] around them.

use newsflow_core::{
    Emit, Event, EventKind, Port, Rejection, Stage, StageContext, StageError, StateChange,
};

/// A service's additions around its stage `S`; every hook does nothing by default.
pub trait StageHooks<S>: Send {
    /// Before each event (e.g. a reloaded setting is put in force).
    fn before(&mut self, stage: &mut S) {
        let _ = stage;
    }

    /// After each event the stage processed, with what it emitted.
    fn after(&mut self, stage: &S, emits: &[Emit]) {
        let _ = (stage, emits);
    }

    /// After each state record applied; `restored` once the start-up restore is complete.
    fn after_restore(&mut self, stage: &S, restored: bool) {
        let _ = (stage, restored);
    }
}

/// A stage with a service's hooks around it.
#[derive(Debug)]
pub struct Hooked<S, H> {
    pub stage: S,
    pub hooks: H,
}

impl<S: Stage, H: StageHooks<S>> Stage for Hooked<S, H> {
    fn name(&self) -> &'static str {
        self.stage.name()
    }

    fn inputs(&self) -> &'static [Port] {
        self.stage.inputs()
    }

    fn outputs(&self) -> &'static [Port] {
        self.stage.outputs()
    }

    fn input_kind(&self) -> EventKind {
        self.stage.input_kind()
    }

    fn output_kinds(&self) -> Vec<EventKind> {
        self.stage.output_kinds()
    }

    fn process(&mut self, event: Event, ctx: &StageContext) -> Result<Vec<Emit>, StageError> {
        self.hooks.before(&mut self.stage);
        let emits = self.stage.process(event, ctx)?;
        self.hooks.after(&self.stage, &emits);
        Ok(emits)
    }

    fn is_stateful(&self) -> bool {
        self.stage.is_stateful()
    }

    fn take_state_changes(&mut self) -> Vec<StateChange> {
        self.stage.take_state_changes()
    }

    fn restore_state(&mut self, key: &str, value: Option<&[u8]>) -> Result<(), Rejection> {
        let restored = self.stage.restore_state(key, value);
        self.hooks.after_restore(&self.stage, false);
        restored
    }

    fn state_restored(&mut self) {
        self.stage.state_restored();
        self.hooks.after_restore(&self.stage, true);
    }
}

#[cfg(test)]
mod tests {
    use newsflow_core::event::RawEvent;
    use newsflow_core::stage::IdentityStage;

    use super::*;

    #[derive(Default)]
    struct Counting {
        before: u32,
        emitted: usize,
        restores: Vec<bool>,
    }

    impl StageHooks<IdentityStage> for Counting {
        fn before(&mut self, _stage: &mut IdentityStage) {
            self.before += 1;
        }
        fn after(&mut self, _stage: &IdentityStage, emits: &[Emit]) {
            self.emitted += emits.len();
        }
        fn after_restore(&mut self, _stage: &IdentityStage, restored: bool) {
            self.restores.push(restored);
        }
    }

    #[test]
    fn hooks_run_around_the_stage_which_keeps_its_interface() {
        let inner = IdentityStage::new(EventKind::Raw);
        let mut hooked = Hooked {
            stage: inner,
            hooks: Counting::default(),
        };
        assert_eq!(hooked.name(), inner.name());
        assert_eq!(hooked.input_kind(), EventKind::Raw);
        assert_eq!(hooked.output_kinds(), [EventKind::Raw]);
        assert!(!hooked.is_stateful());
        let event = Event::Raw(RawEvent::plain_text("a", "s", "text"));
        let ctx = StageContext::at(chrono::DateTime::UNIX_EPOCH);
        assert_eq!(hooked.process(event, &ctx).unwrap().len(), 1);
        hooked.restore_state("k", None).unwrap();
        hooked.state_restored();
        assert_eq!((hooked.hooks.before, hooked.hooks.emitted), (1, 1));
        assert_eq!(hooked.hooks.restores, [false, true]);
    }
}
