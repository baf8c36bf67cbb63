//! The appliance's GPIO: a "take ticket" push button (debounced, delivered as events), a
//! paper-low sensor, a status LED and a buzzer or lamp. The Raspberry Pi backend (rppal,
//! feature `rpi`) maps configured BCM pins; the simulated backend is driven from a channel
//! (the all-in-one demo feeds it from the keyboard).
//!
//! Never blocks the caller on a pin: inputs arrive as events on a channel.

use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What the appliance's inputs report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpioEvent {
    /// The "take ticket" button was pressed (after debouncing).
    ButtonPressed,
    /// The paper-low sensor changed: `true` when the roll is running low.
    PaperLow(bool),
}

/// The outputs an appliance drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Output {
    StatusLed,
    Buzzer,
}

#[derive(Debug, thiserror::Error)]
pub enum GpioError {
    #[error("GPIO is not available on this machine: {0}")]
    Unavailable(String),
    #[error("GPIO pin {pin}: {message}")]
    Pin { pin: u8, message: String },
    #[error("the GPIO event source has stopped")]
    Closed,
}

/// The appliance's GPIO role: read input events, drive outputs.
pub trait Gpio: Send {
    /// Waits up to `timeout` for the next input event (`None` when none came).
    fn next_event(&mut self, timeout: Duration) -> Result<Option<GpioEvent>, GpioError>;
    fn set(&mut self, output: Output, on: bool) -> Result<(), GpioError>;
}

/// Turns raw button levels into presses: a press counts once the line has been held
/// active for `settle` (seen on a later active sample, or on the release when no sample
/// came in between), and another press only after the line was released.
#[derive(Debug, Clone)]
pub struct Debouncer {
    settle: Duration,
    active_since: Option<Instant>,
    reported: bool,
}

impl Debouncer {
    pub fn new(settle: Duration) -> Debouncer {
        Debouncer {
            settle,
            active_since: None,
            reported: false,
        }
    }

    /// Feeds one sample of the line; returns true exactly once per real press.
    pub fn sample(&mut self, active: bool, at: Instant) -> bool {
        if !active {
            // A clean press delivered as two edges (active, then released) has no active
            // sample after `settle`: count it on the release if it was held long enough.
            let held_long_enough = self
                .active_since
                .is_some_and(|since| at.saturating_duration_since(since) >= self.settle);
            let press = held_long_enough && !self.reported;
            self.active_since = None;
            self.reported = false;
            return press;
        }
        let since = *self.active_since.get_or_insert(at);
        if !self.reported && at.duration_since(since) >= self.settle {
            self.reported = true;
            return true;
        }
        false
    }
}

/// Raw input as a simulated (or keyboard-driven) line would deliver it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimInput {
    /// The button line's level changed (contacts bounce: send several).
    ButtonLevel(bool),
    /// A clean press, as from a keyboard key.
    Press,
    PaperLow(bool),
}

/// A GPIO backend driven from a channel; outputs are recorded for inspection.
#[derive(Debug)]
pub struct SimGpio {
    inputs: mpsc::Receiver<(SimInput, Instant)>,
    debouncer: Debouncer,
    outputs: std::collections::HashMap<Output, bool>,
    pending: Option<GpioEvent>,
}

/// The sending side of a [`SimGpio`].
#[derive(Debug, Clone)]
pub struct SimGpioHandle {
    tx: mpsc::Sender<(SimInput, Instant)>,
}

impl SimGpioHandle {
    /// Delivers an input as if it happened at `at` (tests use it to replay bounces).
    pub fn send_at(&self, input: SimInput, at: Instant) -> Result<(), GpioError> {
        self.tx.send((input, at)).map_err(|_| GpioError::Closed)
    }

    pub fn send(&self, input: SimInput) -> Result<(), GpioError> {
        self.send_at(input, Instant::now())
    }
}

impl SimGpio {
    pub fn new(settle: Duration) -> (SimGpio, SimGpioHandle) {
        let (tx, rx) = mpsc::channel();
        (
            SimGpio {
                inputs: rx,
                debouncer: Debouncer::new(settle),
                outputs: Default::default(),
                pending: None,
            },
            SimGpioHandle { tx },
        )
    }

    pub fn output(&self, output: Output) -> bool {
        self.outputs.get(&output).copied().unwrap_or(false)
    }
}

impl Gpio for SimGpio {
    fn next_event(&mut self, timeout: Duration) -> Result<Option<GpioEvent>, GpioError> {
        if let Some(e) = self.pending.take() {
            return Ok(Some(e));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (input, at) = match self.inputs.recv_timeout(left) {
                Ok(x) => x,
                Err(mpsc::RecvTimeoutError::Timeout) => return Ok(None),
                Err(mpsc::RecvTimeoutError::Disconnected) => return Err(GpioError::Closed),
            };
            match input {
                SimInput::Press => return Ok(Some(GpioEvent::ButtonPressed)),
                SimInput::PaperLow(low) => return Ok(Some(GpioEvent::PaperLow(low))),
                SimInput::ButtonLevel(level) => {
                    if self.debouncer.sample(level, at) {
                        return Ok(Some(GpioEvent::ButtonPressed));
                    }
                }
            }
        }
    }

    fn set(&mut self, output: Output, on: bool) -> Result<(), GpioError> {
        self.outputs.insert(output, on);
        Ok(())
    }
}

/// BCM pin numbers of the appliance's wiring, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinMap {
    /// Button to ground, with the internal pull-up: low = pressed.
    pub button: u8,
    /// Paper-low sensor: high = low paper.
    pub paper_low: Option<u8>,
    pub status_led: Option<u8>,
    pub buzzer: Option<u8>,
}

/// Opens the Raspberry Pi backend, or says clearly why it cannot be had here.
pub fn open_rpi(pins: PinMap, settle: Duration) -> Result<Box<dyn Gpio>, GpioError> {
    #[cfg(feature = "rpi")]
    {
        rpi::RpiGpio::open(pins, settle).map(|g| Box::new(g) as Box<dyn Gpio>)
    }
    #[cfg(not(feature = "rpi"))]
    {
        let _ = (pins, settle);
        Err(GpioError::Unavailable(
            "this build has no Raspberry Pi GPIO support (build with the `rpi` feature)".into(),
        ))
    }
}

#[cfg(feature = "rpi")]
mod rpi {
    use super::*;
    use rppal::gpio::{Gpio as Rppal, InputPin, Level, OutputPin};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Polls the input lines every millisecond on its own thread, so debouncing sees the
    /// bounces; events reach `next_event` through a channel.
    pub(super) struct RpiGpio {
        events: mpsc::Receiver<GpioEvent>,
        led: Option<OutputPin>,
        buzzer: Option<OutputPin>,
        /// Tells the polling thread to end (set on drop): without it the thread would
        /// keep polling until it next tried to send an event.
        stop: Arc<AtomicBool>,
    }

    impl Drop for RpiGpio {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::Relaxed);
        }
    }

    impl std::fmt::Debug for RpiGpio {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("RpiGpio").finish_non_exhaustive()
        }
    }

    fn pin_err(pin: u8) -> impl Fn(rppal::gpio::Error) -> GpioError {
        move |e| GpioError::Pin {
            pin,
            message: e.to_string(),
        }
    }

    impl RpiGpio {
        pub(super) fn open(pins: PinMap, settle: Duration) -> Result<RpiGpio, GpioError> {
            let gpio = Rppal::new().map_err(|e| GpioError::Unavailable(e.to_string()))?;
            let button: InputPin = gpio
                .get(pins.button)
                .map_err(pin_err(pins.button))?
                .into_input_pullup();
            let paper: Option<InputPin> = match pins.paper_low {
                Some(p) => Some(gpio.get(p).map_err(pin_err(p))?.into_input()),
                None => None,
            };
            let out = |p: Option<u8>| -> Result<Option<OutputPin>, GpioError> {
                match p {
                    Some(p) => Ok(Some(gpio.get(p).map_err(pin_err(p))?.into_output_low())),
                    None => Ok(None),
                }
            };
            let led = out(pins.status_led)?;
            let buzzer = out(pins.buzzer)?;
            let (tx, rx) = mpsc::channel();
            let stop = Arc::new(AtomicBool::new(false));
            let stopped = stop.clone();
            std::thread::Builder::new()
                .name("gpio-poll".into())
                .spawn(move || {
                    let mut debouncer = Debouncer::new(settle);
                    let mut paper_low = None;
                    while !stopped.load(Ordering::Relaxed) {
                        let now = Instant::now();
                        if debouncer.sample(button.read() == Level::Low, now)
                            && tx.send(GpioEvent::ButtonPressed).is_err()
                        {
                            return;
                        }
                        if let Some(p) = &paper {
                            let low = p.read() == Level::High;
                            if paper_low != Some(low) {
                                paper_low = Some(low);
                                if tx.send(GpioEvent::PaperLow(low)).is_err() {
                                    return;
                                }
                            }
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    }
                })
                .map_err(|e| GpioError::Unavailable(e.to_string()))?;
            Ok(RpiGpio {
                events: rx,
                led,
                buzzer,
                stop,
            })
        }
    }

    impl Gpio for RpiGpio {
        fn next_event(&mut self, timeout: Duration) -> Result<Option<GpioEvent>, GpioError> {
            match self.events.recv_timeout(timeout) {
                Ok(e) => Ok(Some(e)),
                Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
                Err(mpsc::RecvTimeoutError::Disconnected) => Err(GpioError::Closed),
            }
        }

        fn set(&mut self, output: Output, on: bool) -> Result<(), GpioError> {
            let pin = match output {
                Output::StatusLed => self.led.as_mut(),
                Output::Buzzer => self.buzzer.as_mut(),
            };
            if let Some(p) = pin {
                if on {
                    p.set_high();
                } else {
                    p.set_low();
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bouncing_press_counts_once() {
        let (mut gpio, handle) = SimGpio::new(Duration::from_millis(20));
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        // Contact bounce for 5 ms, held for 40 ms, released with bounce, then a real second press.
        for (level, at) in [
            (true, 0),
            (false, 1),
            (true, 2),
            (false, 3),
            (true, 5),
            (true, 30),
            (true, 45),
            (false, 46),
            (true, 47),
            (false, 48),
            (true, 100),
            (true, 125),
        ] {
            handle
                .send_at(SimInput::ButtonLevel(level), ms(at))
                .unwrap();
        }
        let mut presses = 0;
        while let Some(e) = gpio.next_event(Duration::from_millis(50)).unwrap() {
            assert_eq!(e, GpioEvent::ButtonPressed);
            presses += 1;
        }
        assert_eq!(presses, 2);
    }

    #[test]
    fn a_clean_press_delivered_as_two_edges_counts_once() {
        let (mut gpio, handle) = SimGpio::new(Duration::from_millis(20));
        let t0 = Instant::now();
        handle.send_at(SimInput::ButtonLevel(true), t0).unwrap();
        handle
            .send_at(SimInput::ButtonLevel(false), t0 + Duration::from_millis(80))
            .unwrap();
        assert_eq!(
            gpio.next_event(Duration::from_millis(50)).unwrap(),
            Some(GpioEvent::ButtonPressed)
        );
        assert_eq!(gpio.next_event(Duration::from_millis(20)).unwrap(), None);
        // Reported while held, then released: still one press.
        let mut d = Debouncer::new(Duration::from_millis(20));
        assert!(!d.sample(true, t0));
        assert!(d.sample(true, t0 + Duration::from_millis(25)));
        assert!(!d.sample(false, t0 + Duration::from_millis(40)));
        // Two edges closer than `settle`: a blip, not a press.
        assert!(!d.sample(true, t0 + Duration::from_millis(100)));
        assert!(!d.sample(false, t0 + Duration::from_millis(105)));
    }

    #[test]
    fn a_blip_shorter_than_the_settle_time_is_ignored() {
        let mut d = Debouncer::new(Duration::from_millis(20));
        let t0 = Instant::now();
        assert!(!d.sample(true, t0));
        assert!(!d.sample(true, t0 + Duration::from_millis(10)));
        assert!(!d.sample(false, t0 + Duration::from_millis(11)));
        assert!(!d.sample(true, t0 + Duration::from_millis(12)));
        assert!(d.sample(true, t0 + Duration::from_millis(32)));
        assert!(
            !d.sample(true, t0 + Duration::from_millis(60)),
            "held is still one press"
        );
    }

    #[test]
    fn paper_sensor_and_outputs() {
        let (mut gpio, handle) = SimGpio::new(Duration::from_millis(20));
        handle.send(SimInput::PaperLow(true)).unwrap();
        assert_eq!(
            gpio.next_event(Duration::from_millis(50)).unwrap(),
            Some(GpioEvent::PaperLow(true))
        );
        gpio.set(Output::StatusLed, true).unwrap();
        assert!(gpio.output(Output::StatusLed));
        assert!(!gpio.output(Output::Buzzer));
        drop(handle);
        assert!(matches!(
            gpio.next_event(Duration::from_millis(10)),
            Err(GpioError::Closed)
        ));
    }

    #[test]
    fn asking_for_the_pi_backend_off_a_pi_is_a_clear_error() {
        let pins = PinMap {
            button: 17,
            paper_low: Some(27),
            status_led: Some(22),
            buzzer: None,
        };
        match open_rpi(pins, Duration::from_millis(20)) {
            Err(GpioError::Unavailable(msg)) => assert!(!msg.is_empty()),
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("no Raspberry Pi here, yet the backend opened"),
        }
    }
}
