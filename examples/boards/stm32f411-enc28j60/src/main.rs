//! emberstack on an STM32F411 "Black Pill" with an ENC28J60 module on SPI1:
//! a starting point for a board of your own (README.md beside this file).
//!
//! Wiring: PA5 = SCK, PA6 = MISO (SO), PA7 = MOSI (SI), PA4 = CS, 3.3 V and
//! GND; the module's RESET pin may stay unconnected (the driver resets the
//! chip by command). 25 MHz HSE crystal, core at 96 MHz, SPI at 12 MHz.
//!
//! The stack (this directory's `stack.toml`: DHCP, ping, UDP echo on port
//! 7) is polled from the main loop; its clock is the core's cycle counter
//! (DWT), extended to 64-bit milliseconds; the main loop sleeps with `WFI`
//! only until the next SysTick (1 ms), as the ENC28J60's interrupt pin is
//! not wired in this example.
#![no_std]
#![no_main]

use cortex_m::peripheral::DWT;
use cortex_m_rt::entry;
use embedded_hal::delay::DelayNs;
use embedded_hal_bus::spi::ExclusiveDevice;
use emberstack::nic::enc28j60::{Config, Enc28j60};
use emberstack::udp::{UdpDatagram, UdpHandle};
use emberstack::{App, Instant};
use panic_halt as _;
use stm32f4xx_hal::{
    pac,
    prelude::*,
    spi::{Mode, Phase, Polarity},
};

/// The configuration generated from `stack.toml`.
#[allow(dead_code)]
mod config {
    emberstack::include_stack!();
}

/// Core clock, Hz.
const SYSCLK_HZ: u32 = 96_000_000;
/// UDP echo (RFC 862).
const ECHO_PORT: u16 = 7;

/// Busy-wait delays from the core clock (the reset waits at start-up).
struct CycleDelay;
impl DelayNs for CycleDelay {
    fn delay_ns(&mut self, ns: u32) {
        let cycles = u64::from(ns) * u64::from(SYSCLK_HZ / 1_000_000) / 1_000;
        cortex_m::asm::delay(cycles.min(u64::from(u32::MAX)) as u32);
    }
}

/// Milliseconds since start from the 32-bit cycle counter, which wraps
/// every 44 s at 96 MHz: read often enough (the main loop wakes every
/// millisecond), the wraps are counted.
struct Clock {
    last: u32,
    cycles: u64,
}

impl Clock {
    fn now(&mut self) -> Instant {
        let c = DWT::cycle_count();
        self.cycles += u64::from(c.wrapping_sub(self.last));
        self.last = c;
        Instant::from_millis(self.cycles / u64::from(SYSCLK_HZ / 1000))
    }
}

/// The application: answers UDP echo; randomness from the cycle counter
/// mixed by xorshift (seeds ports and TCP sequence numbers; not
/// cryptographic: use the STM32's RNG peripheral on parts that have one).
struct Board {
    echo: Option<UdpHandle>,
    rng: u32,
}

impl App for Board {
    fn random_u32(&mut self) -> u32 {
        self.rng ^= DWT::cycle_count();
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 17;
        self.rng ^= self.rng << 5;
        self.rng
    }

    fn udp_datagram<N: emberstack::nic::Nic>(&mut self, d: &mut UdpDatagram<'_, '_, N>) {
        if d.socket().is_some() && d.socket() == self.echo {
            let _ = d.echo();
        }
    }
}

#[entry]
fn main() -> ! {
    let (Some(dp), Some(mut cp)) = (
        pac::Peripherals::take(),
        cortex_m::peripheral::Peripherals::take(),
    ) else {
        panic!("peripherals taken twice");
    };
    let rcc = dp.RCC.constrain();
    let clocks = rcc.cfgr.use_hse(25.MHz()).sysclk(SYSCLK_HZ.Hz()).freeze();
    cp.DCB.enable_trace();
    cp.DWT.enable_cycle_counter();
    // SysTick only wakes the main loop every millisecond.
    cp.SYST
        .set_clock_source(cortex_m::peripheral::syst::SystClkSource::Core);
    cp.SYST.set_reload(SYSCLK_HZ / 1000 - 1);
    cp.SYST.clear_current();
    cp.SYST.enable_counter();
    cp.SYST.enable_interrupt();

    let gpioa = dp.GPIOA.split();
    let mode = Mode {
        polarity: Polarity::IdleLow,
        phase: Phase::CaptureOnFirstTransition,
    };
    let bus = dp
        .SPI1
        .spi((gpioa.pa5, gpioa.pa6, gpioa.pa7), mode, 12.MHz(), &clocks);
    let cs = gpioa.pa4.into_push_pull_output();
    let Ok(spi) = ExclusiveDevice::new(bus, cs, CycleDelay);
    let mut nic = Enc28j60::new(spi);
    let mac = <config::Device as emberstack::Config>::MAC;
    let chip = Config {
        mac: mac.0,
        ..Config::default()
    };
    // No chip on the bus: nothing to do but wait for a debugger.
    if nic.init(chip, &mut CycleDelay).is_err() {
        loop {
            cortex_m::asm::wfi();
        }
    }

    let mut stack = config::Stack::new();
    let mut app = Board {
        echo: stack.udp_bind(ECHO_PORT).ok(),
        rng: DWT::cycle_count() | 1,
    };
    let mut clock = Clock {
        last: DWT::cycle_count(),
        cycles: 0,
    };
    loop {
        let now = clock.now();
        let busy = stack.poll(now, &mut nic, &mut app);
        if !busy && stack.poll_at(now).is_none_or(|t| t > now) {
            cortex_m::asm::wfi();
        }
    }
}

/// Wakes the main loop; nothing else to do.
#[cortex_m_rt::exception]
fn SysTick() {}
