/** The S/MIME import CSV as admins write it (and as spreadsheets export it). */
import { describe, expect, it } from 'vitest';
import { parseImportCsv } from '../src/smime/csv-import.js';

describe('smime import CSV', () => {
  it('reads quoted passwords with commas and quotes, skips a header, blank lines and comments', () => {
    const text = [
      '\uFEFFuser,p12,password', // a spreadsheet's byte-order mark and header line
      '',
      '# front desk',
      ' Amy@Clinic.example , amy.p12 , plain ',
      'bob@clinic.example,certs/bob.p12,"pa,ss""word"',
      'cy@clinic.example,cy.p12,pa"ss',
    ].join('\r\n');
    const { lines, problems } = parseImportCsv(text);
    expect(problems).toEqual([]);
    expect(lines).toEqual([
      { line: 4, user: 'amy@clinic.example', p12Path: 'amy.p12', password: 'plain' },
      { line: 5, user: 'bob@clinic.example', p12Path: 'certs/bob.p12', password: 'pa,ss"word' },
      { line: 6, user: 'cy@clinic.example', p12Path: 'cy.p12', password: 'pa"ss' },
    ]);
  });

  it('reports each broken line with its number and goes on', () => {
    const text = [
      'a@clinic.example,a.p12,"unclosed',
      'b@clinic.example,b.p12,"closed"then-text',
      'c@clinic.example,c.p12,pw,extra',
      'not-an-address,d.p12,pw',
      'e@clinic.example,,pw',
      'f@clinic.example,f.p12,ok',
    ].join('\n');
    const { lines, problems } = parseImportCsv(text);
    expect(problems).toEqual([
      { line: 1, message: expect.stringMatching(/^broken quoting: quote a whole field/) },
      { line: 2, message: expect.stringMatching(/^broken quoting/) },
      { line: 3, message: expect.stringMatching(/expected 3 fields .* found 4 \(quote a password that contains a comma\)/) },
      { line: 4, message: '"not-an-address" is not an email address' },
      { line: 5, message: 'no path to the .p12 file' },
    ]);
    expect(lines.map((l) => l.line)).toEqual([6]);
  });
});
