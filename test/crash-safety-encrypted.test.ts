/**
 * Crash safety with every spool file sealed (queue.encryption, issue 19): the same proof as
 * crash-safety.test.ts (test/support/crash-suite.ts).
 */
import { crashSafetySuite } from './support/crash-suite.js';

crashSafetySuite(true);
