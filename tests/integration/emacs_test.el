;;; emacs_test.el --- cardex.el against a real cardexd (run by editors_test.py)  -*- lexical-binding: t; -*-
(require 'ert)
(require 'cl-lib)
(require 'seq)
(require 'cardex)

(ert-deftest cardex-ping ()
  (let ((r (cardex-request "ping")))
    (should (eq (alist-get 'pong r) t))
    (should (equal (alist-get 'version r) "1.0"))))

(ert-deftest cardex-search-and-show ()
  (let ((chosen nil))
    (cl-letf (((symbol-function 'completing-read)
               (lambda (_prompt table &rest _)
                 (setq chosen (or (seq-find (lambda (c) (string-prefix-p "Q077" (car c))) table)
                                  (car table)))
                 (car chosen))))
      (cardex-search "information security management system"))
    (should chosen)
    (with-current-buffer "*cardex Q077*"
      (should (equal cardex-card-id "Q077"))
      (should (string-match-p "Plain-English answer" (buffer-string))))))

(ert-deftest cardex-show-missing ()
  (should-error (cardex-show "Q999") :type 'cardex-error))

(ert-deftest cardex-capf-ids ()
  (with-temp-buffer
    (insert "see Q07")
    (let* ((capf (cardex-completion-at-point))
           (cands (all-completions "Q07" (nth 2 capf))))
      (should (member "Q077" cands)))))

(ert-deftest cardex-daemon-down ()
  (let ((cardex-socket "/nonexistent/cardex.sock")
        (cardex--process nil))
    (let ((err (should-error (cardex-request "ping") :type 'user-error)))
      (should (string-match-p "cannot reach the daemon at /nonexistent/cardex.sock" (cadr err))))))
;;; emacs_test.el ends here
