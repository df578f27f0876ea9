/**
 * Crash safety, proven: the real daemon SIGKILLed at random moments under load, restarted each
 * time; every 250 reaches Gmail, duplicates only for a send in flight at a kill
 * (test/support/crash-suite.ts). The same with spool encryption: crash-safety-encrypted.test.ts.
 */
import { crashSafetySuite } from './support/crash-suite.js';

crashSafetySuite(false);
